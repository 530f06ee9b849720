//! AI APIs and observability.

use super::{Def, context, token};

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![
        // AI APIs.
        token("openai-api-key", "OpenAI API key", &["t3blbkfj", "sk-proj-", "sk-svcacct-", "sk-admin-"], r"\b(sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_\-]{20,74}T3BlbkFJ[A-Za-z0-9_\-]{20,74}|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{58,200})(?:[^A-Za-z0-9_\-]|$)"),
        token("anthropic-api-key", "Anthropic API key", &["sk-ant-api"], r"\b(sk-ant-api\d{2}-[A-Za-z0-9_\-]{80,100}AA)(?:[^A-Za-z0-9_\-]|$)"),
        token("anthropic-admin-api-key", "Anthropic Admin API key", &["sk-ant-admin"], r"\b(sk-ant-admin\d{2}-[A-Za-z0-9_\-]{80,100}AA)(?:[^A-Za-z0-9_\-]|$)"),
        token("huggingface-access-token", "Hugging Face access token", &["hf_"], r"(?:^|[^A-Za-z0-9_])(hf_[A-Za-z]{34})(?:[^A-Za-z0-9_]|$)")
            .check(|c| {
                let s = &c.secret[3..];
                s.iter().any(u8::is_ascii_uppercase) && s.iter().any(u8::is_ascii_lowercase)
            }),
        token("huggingface-organization-api-token", "Hugging Face organization API token", &["api_org_"], r"(?:^|[^A-Za-z0-9_])(api_org_[A-Za-z]{34})(?:[^A-Za-z0-9_]|$)")
            .check(|c| {
                let s = &c.secret[8..];
                s.iter().any(u8::is_ascii_uppercase) && s.iter().any(u8::is_ascii_lowercase)
            }),
        context("cohere-api-token", "Cohere API key", &["cohere", "co_api_key"], r"[A-Za-z0-9]{40}"),
        token("groq-api-key", "Groq API key", &["gsk_"], r"\b(gsk_[A-Za-z0-9]{52})\b"),
        token("replicate-api-token", "Replicate API token", &["r8_"], r"\b(r8_[A-Za-z0-9]{37})\b"),
        token("perplexity-api-key", "Perplexity API key", &["pplx-"], r"\b(pplx-[A-Za-z0-9]{48})\b"),
        token("xai-api-key", "xAI API key", &["xai-"], r"\b(xai-[A-Za-z0-9]{80})\b"),
        token("openrouter-api-key", "OpenRouter API key", &["sk-or-v1-"], r"\b(sk-or-v1-[a-f0-9]{64})\b"),
        token("langsmith-api-key", "LangSmith API key", &["lsv2_"], r"\b(lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})\b"),
        token("pinecone-api-key", "Pinecone API key", &["pcsk_"], r"\b(pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,80})\b"),
        context("mistral-api-key", "Mistral AI API key", &["mistral"], r"[A-Za-z0-9]{32}"),
        context("deepseek-api-key", "DeepSeek API key", &["deepseek"], r"sk-[a-f0-9]{32}"),
        context("elevenlabs-api-key", "ElevenLabs API key", &["elevenlabs", "xi-api-key", "eleven_api"], r"(?:sk_)?[a-f0-9]{32,48}"),
        context("assemblyai-api-key", "AssemblyAI API key", &["assemblyai", "assembly_ai"], r"[a-f0-9]{32}"),
        context("privateai-api-token", "Private AI API key", &["privateai", "private_ai", "private-ai"], r"[A-Za-z0-9]{32}"),
        context("stability-api-key", "Stability AI API key", &["stability_api", "stabilityai", "stability_key"], r"sk-[A-Za-z0-9]{48}"),
        // Observability.
        context("datadog-access-token", "Datadog API or application key", &["datadog", "dd_api_key", "dd_app_key", "dd_application_key"], r"[A-Za-z0-9]{40}|[a-f0-9]{32}"),
        token("newrelic-user-api-key", "New Relic user API key", &["nrak-"], r"\b(NRAK-[A-Z0-9]{27})\b"),
        token("newrelic-browser-api-token", "New Relic browser API token", &["nrjs-"], r"\b(NRJS-[a-f0-9]{19})\b"),
        token("newrelic-insert-key", "New Relic insert key", &["nrii-"], r"\b(NRII-[A-Za-z0-9_\-]{32})(?:[^A-Za-z0-9_\-]|$)"),
        token("newrelic-license-key", "New Relic ingest license key", &["nral"], r"\b([a-f0-9]{36}NRAL)\b"),
        context("new-relic-user-api-id", "New Relic API key", &["new-relic", "newrelic", "new_relic"], r"[A-Za-z0-9]{64}"),
        token("sentry-org-token", "Sentry organization auth token", &["sntrys_"], r"\b(sntrys_eyJpYXQiO[A-Za-z0-9+/=_]{50,400}_[A-Za-z0-9+/=]{43})"),
        token("sentry-user-token", "Sentry user auth token", &["sntryu_"], r"\b(sntryu_[a-f0-9]{64})\b"),
        context("sentry-access-token", "Sentry auth token", &["sentry"], r"[a-f0-9]{64}"),
        // A DSN is public (it only submits events) unless it carries the legacy secret key after `:`.
        token("sentry-dsn", "Sentry DSN with its secret key", &["sentry.io", "ingest."], r"(https?://[a-f0-9]{32}:([a-f0-9]{32})@[a-z0-9.\-]*(?:sentry\.io|ingest\.[a-z0-9.\-]+)/\d+)").group(2),
        token("grafana-cloud-api-token", "Grafana Cloud access policy token", &["glc_"], r"\b(glc_[A-Za-z0-9+/]{32,400}={0,2})"),
        token("grafana-service-account-token", "Grafana service account token", &["glsa_"], r"\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})\b"),
        token("grafana-api-key", "Grafana API key (legacy)", &["eyjrijoi"], r"\b(eyJrIjoi[A-Za-z0-9]{70,400}={0,2})"),
        context("honeycomb-api-key", "Honeycomb API key", &["honeycomb", "x-honeycomb-team"], r"[A-Za-z0-9]{22}|[a-f0-9]{32}"),
        token("honeycomb-ingest-key", "Honeycomb ingest key", &["hcaik_", "hcxik_"], r"\b(hc[ax]ik_[a-z0-9]{58})\b"),
        context("dynatrace-api-token-keyword", "Dynatrace API token", &["dynatrace"], r"dt0[a-zA-Z]{1}[0-9]{2}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
        token("dynatrace-api-token", "Dynatrace API token", &["dt0c01."], r"(?i)\b(dt0c01\.[a-z0-9]{24}\.[a-z0-9]{64})\b"),
        context("pagerduty-api-key", "PagerDuty API key", &["pagerduty", "pager_duty"], r"[A-Za-z0-9_+\-]{20}"),
        context("opsgenie-api-key", "Opsgenie API key", &["opsgenie"], r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"),
        context("splunk-hec-token", "Splunk HTTP Event Collector token", &["splunk"], r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"),
        context("sumologic-access-id", "Sumo Logic access ID", &["sumo", "sumologic"], r"su[A-Za-z0-9]{12}"),
        context("sumologic-access-token", "Sumo Logic access key", &["sumo", "sumologic"], r"[A-Za-z0-9]{64}"),
        context("logzio-api-token", "Logz.io API token", &["logz"], r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"),
        context("rollbar-access-token", "Rollbar access token", &["rollbar"], r"[a-f0-9]{32}"),
        context("bugsnag-api-key", "Bugsnag API key", &["bugsnag"], r"[a-f0-9]{32}"),
        context("cisco-meraki-api-key", "Cisco Meraki API key", &["meraki"], r"[0-9a-f]{40}")
            .check(|c| !super::super::detect::noise::has_sequence(c.secret, 5)),
    ]
}
