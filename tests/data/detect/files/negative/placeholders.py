# Examples from the docs: none of these are secrets.
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
api_key = "<your-key>"
api_token = "your_api_key_here"
password = "changeme"
db_password = "${DB_PASSWORD}"
secret = os.environ["APP_SECRET"]
token = os.getenv("API_TOKEN")
client_secret = "****************"
