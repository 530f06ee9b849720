provider "heroku" {
  email   = "ops@acme.io"
  api_key = "5e00488f-3a1a-4de3-a364-200c51041e1c"
}

resource "heroku_app" "portal" {
  name   = "acme-portal"
  region = "eu"
}
