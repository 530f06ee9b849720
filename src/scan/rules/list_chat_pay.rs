//! Chat, mail and messaging; payments and commerce.

use super::checks;
use super::{Def, Kind, context, token};

const UUID: &str = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}";

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![
        // Slack.
        token(
            "slack-bot-token",
            "Slack bot token",
            &["xoxb-"],
            r"\b(xoxb-[0-9]{8,14}-[0-9]{8,14}-[A-Za-z0-9]{20,40})\b",
        )
        .kind(super::Kind::Raw)
        .check(super::checks::slack_random_part),
        token(
            "slack-legacy-bot-token",
            "Slack legacy bot token",
            &["xoxb-"],
            r"\b(xoxb-[0-9]{8,14}-[A-Za-z0-9]{18,26})\b",
        )
        .kind(super::Kind::Raw)
        .check(super::checks::slack_random_part),
        token(
            "slack-user-token",
            "Slack user token",
            &["xoxp-", "xoxe-"],
            r"\b(xox[pe](?:-[0-9]{8,14}){3}-[A-Za-z0-9]{28,34})\b",
        )
        .kind(super::Kind::Raw)
        .check(super::checks::slack_random_part),
        token(
            "slack-app-token",
            "Slack app-level token",
            &["xapp-"],
            r"(?i)\b(xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)\b",
        ),
        token(
            "slack-config-access-token",
            "Slack configuration access token",
            &["xoxe.xox"],
            r"(?i)\b(xoxe\.xox[bp]-\d-[A-Z0-9]{163,166})\b",
        ),
        token(
            "slack-config-refresh-token",
            "Slack configuration refresh token",
            &["xoxe-"],
            r"(?i)\b(xoxe-\d-[A-Z0-9]{146})\b",
        ),
        token(
            "slack-legacy-workspace-token",
            "Slack legacy workspace token",
            &["xoxa-", "xoxr-"],
            r"\b(xox[ar]-(?:\d-)?[0-9A-Za-z]{8,48}(?:-[0-9A-Za-z]{4,48}){1,4})\b",
        )
        .check(|c| c.secret.iter().filter(|b| b.is_ascii_digit()).count() >= 6)
        .kind(super::Kind::Raw)
        .check(super::checks::slack_random_part),
        token(
            "slack-legacy-token",
            "Slack legacy token",
            &["xoxo-", "xoxs-"],
            r"\b(xox[os]-\d+-\d+-\d+-[a-fA-F\d]+)\b",
        )
        .kind(super::Kind::Raw)
        .check(super::checks::slack_random_part),
        token(
            "slack-webhook-url",
            "Slack incoming webhook",
            &["hooks.slack.com"],
            r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/]{43,56}|T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{23,25})",
        ),
        // Discord.
        context(
            "discord-api-token",
            "Discord API key",
            &["discord"],
            r"[a-f0-9]{64}",
        ),
        context(
            "discord-client-id",
            "Discord client ID",
            &["discord"],
            r"[0-9]{18}",
        ),
        context(
            "discord-client-secret",
            "Discord client secret",
            &["discord"],
            r"[A-Za-z0-9=_\-]{32}",
        ),
        token(
            "discord-bot-token",
            "Discord bot token",
            &["discord"],
            r"\b([MNO][A-Za-z\d_\-]{23,25}\.[\w\-]{6}\.[\w\-]{27,38})(?:[^A-Za-z0-9_\-]|$)",
        )
        .entropy(4.0),
        token(
            "discord-webhook-url",
            "Discord webhook",
            &["/api/webhooks/"],
            r"discord(?:app)?\.com/api/webhooks/(\d{17,20}/[\w\-]{60,68})",
        ),
        // Telegram: bot id, colon, 35 characters starting with "A".
        token(
            "telegram-bot-api-token",
            "Telegram bot API token",
            &[":aa"],
            r"(?:^|[^0-9A-Za-z])([0-9]{8,10}:AA[A-Za-z0-9_\-]{33})(?:[^A-Za-z0-9_\-]|$)",
        ),
        context(
            "telegram-bot-token-keyword",
            "Telegram bot API token",
            &["telegram", "tgbot", "tg_bot"],
            r"[0-9]{5,16}:A[A-Za-z0-9_\-]{34}",
        ),
        // The same shape with the provider named earlier on its line in words (`telegram bot: …`).
        token(
            "telegram-bot-token-in-text",
            "Telegram bot API token",
            &["telegram"],
            r"(?i:telegram)[^\n]{0,40}?(?:^|[^0-9A-Za-z])([0-9]{5,16}:A[A-Za-z0-9_\-]{34})(?:[^A-Za-z0-9_\-]|$)",
        )
        .kind(Kind::Context),
        // Zulip: bot API keys are 32 alphanumerics, in zuliprc's [api] section or environment files.
        token(
            "zulip-api-key-zuliprc",
            "Zulip API key in a zuliprc file",
            &["[api]"],
            r"\[api\][^\[]{0,600}?(?m:^)[ \t]*key[ \t]*=[ \t]*([A-Za-z0-9]{32})\b",
        )
        .lines(0, 12),
        context(
            "zulip-api-key",
            "Zulip API key",
            &["zulip"],
            r"[A-Za-z0-9]{32}",
        ),
        // Microsoft Teams, Mattermost, Gitter, Intercom.
        token(
            "microsoft-teams-webhook",
            "Microsoft Teams incoming webhook",
            &["webhook.office.com", "/webhookb2/"],
            r"(https://[a-z0-9\-]+\.webhook\.office\.com/webhookb2/[a-z0-9\-]+@[a-z0-9\-]+/IncomingWebhook/[a-z0-9]+/[a-z0-9\-]+)",
        ),
        context(
            "mattermost-access-token",
            "Mattermost access token",
            &["mattermost"],
            r"[a-z0-9]{26}",
        ),
        context(
            "gitter-access-token",
            "Gitter access token",
            &["gitter"],
            r"[A-Za-z0-9_\-]{40}",
        ),
        context(
            "intercom-api-key",
            "Intercom access token",
            &["intercom"],
            r"[A-Za-z0-9=_\-]{60}",
        ),
        // Mail.
        token(
            "sendgrid-api-token",
            "SendGrid API key",
            &["sg."],
            r"\b(SG\.[A-Za-z0-9=_\-.]{66})(?:[^A-Za-z0-9=_\-.]|$)",
        ),
        token(
            "mailgun-private-api-token",
            "Mailgun private API key",
            &["key-"],
            r"\b(key-[a-f0-9]{32})\b",
        ),
        token(
            "mailgun-pub-key",
            "Mailgun public validation key",
            &["pubkey-"],
            r"\b(pubkey-[a-f0-9]{32})\b",
        ),
        context(
            "mailgun-signing-key",
            "Mailgun webhook signing key",
            &["mailgun"],
            r"[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8}",
        ),
        token(
            "mailchimp-api-key",
            "Mailchimp API key",
            &["-us"],
            r"\b([a-f0-9]{32}-us[0-9]{1,2})\b",
        )
        // The Mobile SDK key given to `MailchimpSDK.initialize` has the same shape but is meant to
        // ship inside apps (it can only add contacts): not the account's API key.
        .check(|c| !crate::scan::detect::noise::contains(c.window, b"MailchimpSDK")),
        token(
            "mandrill-api-key",
            "Mandrill API key",
            &["mandrill"],
            r"(?i:mandrill)[\w.\-]{0,20}[\x22'\s:=]{1,5}([A-Za-z0-9_\-]{22})(?:[^A-Za-z0-9_\-]|$)",
        ),
        context(
            "postmark-server-token",
            "Postmark server token",
            &["postmark"],
            UUID,
        ),
        token(
            "sendinblue-api-token",
            "Brevo (Sendinblue) API key",
            &["xkeysib-", "xsmtpsib-"],
            r"\b(x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16})\b",
        ),
        token(
            "mailersend-api-token",
            "MailerSend API token",
            &["mlsn."],
            r"\b(mlsn\.[a-f0-9]{64})\b",
        ),
        context(
            "resend-api-key",
            "Resend API key",
            &["resend"],
            r"re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}",
        ),
        context(
            "sparkpost-api-key",
            "SparkPost API key",
            &["sparkpost"],
            r"[a-f0-9]{40}",
        ),
        // SMS and voice.
        context(
            "twilio-api-key",
            "Twilio API key SID",
            &["twilio"],
            r"SK[0-9a-fA-F]{32}",
        ),
        context(
            "twilio-auth-token",
            "Twilio auth token",
            &[
                "twilio_auth_token",
                "twilio_token",
                "twilio_secret",
                "twilioauthtoken",
            ],
            r"[a-f0-9]{32}",
        ),
        context(
            "messagebird-api-token",
            "MessageBird API key",
            &["messagebird", "message-bird", "message_bird"],
            r"[A-Za-z0-9]{25}",
        ),
        context(
            "messagebird-client-id",
            "MessageBird client ID",
            &["messagebird", "message-bird", "message_bird"],
            UUID,
        ),
        context(
            "vonage-api-secret",
            "Vonage (Nexmo) API secret",
            &["nexmo", "vonage"],
            r"[A-Za-z0-9]{16}",
        ),
        context(
            "plivo-auth-token",
            "Plivo auth token",
            &["plivo"],
            r"[A-Za-z0-9]{40}",
        ),
        context(
            "sendbird-access-token",
            "Sendbird API token",
            &["sendbird"],
            r"[a-f0-9]{40}",
        ),
        context(
            "sendbird-access-id",
            "Sendbird application ID",
            &["sendbird"],
            UUID,
        ),
        // Pusher Channels: the app secret is 20 hex digits, recognisable only by its name (the app
        // key, of the same shape, is public: it ships to every browser).
        token(
            "pusher-app-secret",
            "Pusher Channels app secret",
            &["pusher"],
            r#"(?i:pusher)[\w.\-]{0,24}?(?i:secret)["'`]?[ \t]*(?:=|:|=>)[ \t]*["'`]?([a-f0-9]{20})(?:["'`\s;,]|$)"#,
        )
        .kind(Kind::Context),
        // Payments.
        token(
            "stripe-access-token",
            "Stripe secret or restricted key",
            &[
                "sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_", "rk_prod_",
            ],
            r"\b((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,247})\b",
        )
        .check(checks::stripe_key_outside_template),
        token(
            "stripe-webhook-secret",
            "Stripe webhook signing secret",
            &["whsec_"],
            r"\b(whsec_[A-Za-z0-9]{32,64})\b",
        ),
        token(
            "square-access-token",
            "Square access token",
            &["eaaa", "sq0atp-"],
            r"\b((?:EAAA|sq0atp-)[A-Za-z0-9_\-]{22,60})(?:[^A-Za-z0-9_\-]|$)",
        )
        .entropy(3.5),
        token(
            "square-oauth-secret",
            "Square OAuth secret",
            &["sq0csp-"],
            r"\b(sq0csp-[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "braintree-access-token",
            "PayPal Braintree access token",
            &["access_token$production$", "access_token$sandbox$"],
            r"(access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32})",
        ),
        context(
            "paypal-client-secret",
            "PayPal REST client secret",
            &["paypal"],
            r"E[A-Za-z0-9_\-]{79}",
        ),
        context(
            "gocardless-api-token",
            "GoCardless access token",
            &["gocardless"],
            r"live_[A-Za-z0-9_=\-]{40}",
        ),
        // Flutterwave documents three keys per account and mode: a public key (`FLWPUBK[_TEST]-` + 32
        // hex + `-X`), a secret key (`FLWSECK[_TEST]-…-X`) and an encryption key. The public key
        // is meant for the browser: it cannot move money, so it is reported at low severity (it
        // names the account and usually sits next to the secret key), never as a leaked secret.
        token(
            "flutterwave-public-key",
            "Flutterwave public key (publishable, low severity: it names the account; check the secret key is not next to it)",
            &["flwpubk_test-", "flwpubk-"],
            r"\b(FLWPUBK(?:_TEST)?-[a-hA-H0-9]{32}-X)\b",
        )
        .severity_low(),
        token(
            "flutterwave-secret-key",
            "Flutterwave secret key",
            &["flwseck_test-", "flwseck-"],
            r"\b(FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X)\b",
        ),
        token(
            "flutterwave-encryption-key",
            "Flutterwave encryption key",
            &["flwseck_test", "flwseck"],
            r"\b(FLWSECK(?:_TEST)?[a-hA-H0-9]{12}|FLWSECK_TEST-[a-hA-H0-9]{12})\b",
        ),
        token(
            "razorpay-key-secret",
            "Razorpay API key",
            &["rzp_live_", "rzp_test_"],
            r"\b(rzp_(?:live|test)_[A-Za-z0-9]{14})\b",
        ),
        token(
            "duffel-api-token",
            "Duffel API token",
            &["duffel_test_", "duffel_live_"],
            r"\b(duffel_(?:test|live)_[A-Za-z0-9_\-=]{43})",
        ),
        token(
            "easypost-api-token",
            "EasyPost production API key",
            &["ezak"],
            r"\b(EZAK[A-Za-z0-9]{54})\b",
        ),
        token(
            "easypost-test-api-token",
            "EasyPost test API key",
            &["eztk"],
            r"\b(EZTK[A-Za-z0-9]{54})\b",
        ),
        token(
            "shippo-api-token",
            "Shippo API token",
            &["shippo_live_", "shippo_test_"],
            r"\b(shippo_(?:live|test)_[a-fA-F0-9]{40})\b",
        ),
        token(
            "plaid-api-token",
            "Plaid access token",
            &[
                "access-sandbox-",
                "access-development-",
                "access-production-",
            ],
            r"\b(access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        ),
        context(
            "plaid-client-id",
            "Plaid client ID",
            &["plaid"],
            r"[A-Za-z0-9]{24}",
        ),
        context(
            "plaid-secret-key",
            "Plaid secret",
            &["plaid"],
            r"[a-z0-9]{30}",
        ),
        context(
            "coinbase-access-token",
            "Coinbase access token",
            &["coinbase"],
            r"[A-Za-z0-9_\-]{64}",
        ),
        context(
            "kraken-access-token",
            "Kraken API key",
            &["kraken"],
            r"[A-Za-z0-9/=_+\-]{80,90}",
        ),
        context(
            "kucoin-access-token",
            "KuCoin API key",
            &["kucoin"],
            r"[a-f0-9]{24}",
        ),
        context("kucoin-secret-key", "KuCoin API secret", &["kucoin"], UUID),
        context(
            "bittrex-access-key",
            "Bittrex API key",
            &["bittrex"],
            r"[A-Za-z0-9]{32}",
        ),
        context(
            "finicity-client-secret",
            "Finicity client secret",
            &["finicity"],
            r"[A-Za-z0-9]{20}",
        ),
        context(
            "finicity-api-token",
            "Finicity API token",
            &["finicity"],
            r"[a-f0-9]{32}",
        ),
        context(
            "finnhub-access-token",
            "Finnhub API token",
            &["finnhub"],
            r"[A-Za-z0-9]{20}",
        ),
        context(
            "lob-api-key",
            "Lob API key",
            &["lob"],
            r"(?:live|test)_[a-f0-9]{35}",
        ),
        token(
            "lob-pub-api-key",
            "Lob publishable API key",
            &["live_pub_", "test_pub_"],
            r"\b((?:live|test)_pub_[a-f0-9]{31})\b",
        ),
        context(
            "mollie-api-key",
            "Mollie API key",
            &["mollie"],
            r"(?:live|test)_[A-Za-z0-9]{30}",
        ),
        context(
            "adyen-api-key",
            "Adyen API key",
            &["adyen"],
            r"AQE[A-Za-z0-9+/=_\-]{80,250}",
        ),
        context(
            "etsy-access-token",
            "Etsy API key",
            &["etsy"],
            r"[A-Za-z0-9]{24}",
        ),
        context(
            "squarespace-access-token",
            "Squarespace API key",
            &["squarespace"],
            UUID,
        ),
        context(
            "freshbooks-access-token",
            "FreshBooks access token",
            &["freshbooks"],
            r"[A-Za-z0-9]{64}",
        ),
        context(
            "zendesk-secret-key",
            "Zendesk API token",
            &["zendesk"],
            r"[A-Za-z0-9]{40}",
        ),
        context("hubspot-api-key", "HubSpot API key", &["hubspot"], UUID),
        token(
            "hubspot-private-app-token",
            "HubSpot private app access token",
            &["pat-na1-", "pat-eu1-"],
            r"\b(pat-(?:na|eu)1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        ),
    ]
}
