provider "digitalocean" {
  token = "dop_v1_63a2aff9c08f0f45565769554ece7746cab803e74552bc0f8d5907f401fe41f5"
}

resource "azurerm_mssql_server" "db" {
  name                         = "billing-db"
  administrator_login          = "billing"
  administrator_login_password = "ctchliTurcWviKniRRig"
}
