import requests

TELEGRAM_BOT = "186005949:AAz2AhSATAaoxuWLv8wC2hdFAnruKO541MR"
DISCORD_HOOK = "https://discord.com/api/webhooks/308333115780734072/8UfyjI6U_AhneTotxfTUHly1ZkZjbnOagFPM2Zj4c4Lupb27BsqejkP8jRTO68ElKQtr"
SLACK_HOOK = "https://hooks.slack.com/services/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"
twilio_auth_token = "3a8850b6c90c48ba7c69be93a1b4f7c7"

def notify(text):
    requests.post(SLACK_HOOK, json={"text": text}, timeout=5)
