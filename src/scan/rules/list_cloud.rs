//! Cloud providers and infrastructure.

use super::checks;
use super::{Def, context, token};

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![
        // AWS: access key ids are 20 characters, a 4-letter type prefix then base32.
        token(
            "aws-access-key-id",
            "AWS access key ID",
            &["akia", "asia", "abia", "acca", "a3t"],
            r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
        ),
        context(
            "aws-secret-access-key",
            "AWS secret access key",
            &["aws_secret", "awssecret", "aws-secret", "secret_access_key", "secretaccesskey", "aws_secret_key"],
            r"[A-Za-z0-9/+]{40}",
        )
        .entropy(3.8),
        token(
            "aws-secret-access-key-near-id",
            "AWS secret access key next to an access key ID",
            &["akia", "asia"],
            r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        )
        .lines(3, 3)
        .check(checks::aws_secret_near_key),
        context(
            "aws-session-token",
            "AWS session token",
            &["aws_session_token", "awssessiontoken", "aws-session-token", "x-amz-security-token"],
            r"[A-Za-z0-9/+=]{100,1200}",
        ),
        token(
            "aws-bedrock-api-key",
            "Amazon Bedrock long-term API key",
            &["absk"],
            r"\b(ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{40,300}={0,2})",
        ),
        token(
            "aws-bedrock-short-term-key",
            "Amazon Bedrock short-term API key",
            &["bedrock-api-key-"],
            // Not followed by regex syntax: the prefix inside a pattern is no key.
            r"\b(bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=%&._\-]*)(?:[^\[(\\{|?*]|$)",
        ),
        token("aws-mws-key", "Amazon MWS auth token", &["amzn.mws."], r"\b(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b"),
        // Google Cloud.
        token("gcp-api-key", "Google API key", &["aiza"], r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)")
            .lines(1, 0)
            .check(checks::gcp_key_in_use),
        token(
            "gcp-service-account-key",
            "Google Cloud service account private key (JSON key file)",
            &["\"private_key\""],
            r#""private_key"\s*:\s*"(-----BEGIN (?:RSA )?PRIVATE KEY-----\\n[A-Za-z0-9+/=\\]{100,}-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)""#,
        )
        .kind(super::Kind::Raw),
        token("gcp-oauth-client-secret", "Google OAuth client secret", &["gocspx-"], r"\b(GOCSPX-[A-Za-z0-9_\-]{28})(?:[^A-Za-z0-9_\-]|$)"),
        token("gcp-oauth-access-token", "Google OAuth access token", &["ya29."], r"\b(ya29\.[0-9A-Za-z_\-]{30,400})"),
        token("gcp-oauth-refresh-token", "Google OAuth refresh token", &["1//0"], r"\b(1//0[0-9A-Za-z_\-]{40,300})"),
        // Azure.
        token(
            "azure-storage-account-key",
            "Azure storage account key in a connection string",
            &["accountkey="],
            r"(?i:AccountKey)=([A-Za-z0-9+/]{86}==)",
        ),
        token(
            "azure-shared-access-key",
            "Azure Service Bus / Event Hubs / IoT shared access key",
            &["sharedaccesskey="],
            r"(?i:SharedAccessKey)=([A-Za-z0-9+/]{42,44}=)",
        ),
        token(
            "azure-ad-client-secret",
            "Azure AD (Entra ID) application client secret",
            &["q~"],
            r"(?:^|[^\w~.\-])([\w~.\-]{3}\dQ~[\w~.\-]{31,34})(?:[^\w~.\-]|$)",
        )
        .check(|c| c.secret.iter().any(u8::is_ascii_digit) && c.secret.iter().filter(|b| **b == b'~').count() <= 4),
        token(
            "azure-sas-token",
            "Azure shared access signature (SAS) token",
            &["sig="],
            r"[?&]sv=\d{4}-\d{2}-\d{2}&[^\s'\x22<>]{0,300}?\bsig=([A-Za-z0-9%+/]{40,80}(?:%3D|=)?)",
        ),
        context("azure-devops-pat", "Azure DevOps personal access token", &["azure_devops", "azuredevops", "ado_pat", "azdo", "system_accesstoken", "vsts"], r"[a-z2-7]{52}"),
        token("azure-function-key", "Azure Functions key in a URL", &["azurewebsites.net"], r"\.azurewebsites\.net/api/[\w\-/]+\?(?:[^\s'\x22]*&)?code=([A-Za-z0-9_\-]{44,60}={0,2})"),
        // DigitalOcean.
        token("digitalocean-pat", "DigitalOcean personal access token", &["dop_v1_"], r"\b(dop_v1_[a-f0-9]{64})\b"),
        token("digitalocean-access-token", "DigitalOcean OAuth access token", &["doo_v1_"], r"\b(doo_v1_[a-f0-9]{64})\b"),
        token("digitalocean-refresh-token", "DigitalOcean OAuth refresh token", &["dor_v1_"], r"\b(dor_v1_[a-f0-9]{64})\b"),
        token("digitalocean-spaces-key", "DigitalOcean Spaces access key", &["do00"], r"\b(DO00[A-Z0-9]{16})\b"),
        // Alibaba Cloud.
        token("alibaba-access-key-id", "Alibaba Cloud AccessKey ID", &["ltai"], r"\b(LTAI[A-Za-z0-9]{12,20})\b"),
        context("alibaba-secret-key", "Alibaba Cloud AccessKey secret", &["alibaba", "aliyun", "alicloud"], r"[A-Za-z0-9]{30}"),
        // Heroku.
        context("heroku-api-key", "Heroku API key", &["heroku"], r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"),
        token("heroku-api-key-v2", "Heroku API key (HRKU- format)", &["hrku-"], r"\b(HRKU-[A-Za-z0-9_\-]{58,64})(?:[^A-Za-z0-9_\-]|$)"),
        // Linode, Vultr, Hetzner, Scaleway, OVH.
        context("linode-api-token", "Linode (Akamai) API token", &["linode"], r"[a-f0-9]{64}"),
        context("vultr-api-key", "Vultr API key", &["vultr"], r"[A-Z0-9]{36}"),
        context("hetzner-api-token", "Hetzner Cloud API token", &["hetzner", "hcloud"], r"[A-Za-z0-9]{64}"),
        token("scaleway-secret-key", "Scaleway secret key", &["scw_secret_key", "scaleway"], r"(?i:scw_secret_key|scaleway[\w.\-]{0,20}secret[\w.\-]{0,10})[\x22'\s:=]{1,5}([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"),
        context("ovh-application-secret", "OVH application secret", &["ovh_application_secret", "ovh_consumer_key", "ovh"], r"[A-Za-z0-9]{32}"),
        // Cloudflare.
        context("cloudflare-api-token", "Cloudflare API token", &["cloudflare", "cf_api_token", "cf_token"], r"[A-Za-z0-9_\-]{40}"),
        context("cloudflare-global-api-key", "Cloudflare global API key", &["cloudflare", "cf_api_key", "x-auth-key"], r"[a-f0-9]{37}"),
        token(
            "cloudflare-origin-ca-key",
            "Cloudflare Origin CA key",
            &["v1.0-"],
            r"\b(v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b",
        ),
        // Yandex Cloud.
        context("yandex-aws-access-token", "Yandex Cloud static access key", &["yandex", "yc_"], r"YC[A-Za-z0-9_\-]{38}"),
        token("yandex-api-key", "Yandex Cloud API key", &["aqvn"], r"\b(AQVN[A-Za-z0-9_\-]{35,38})(?:[^A-Za-z0-9_\-]|$)"),
        token("yandex-access-token", "Yandex Cloud IAM token", &["t1.9euelz", "t1.c."], r"\b(t1\.[A-Z0-9a-z_\-]+={0,2}\.[A-Z0-9a-z_\-]{86}={0,2})"),
        // IBM, Oracle, Tencent.
        context("ibm-cloud-api-key", "IBM Cloud API key", &["ibm_cloud_api_key", "ibmcloud_api_key", "ibm_api_key", "ibmcloud"], r"[A-Za-z0-9_\-]{44}"),
        token("tencent-secret-id", "Tencent Cloud SecretId", &["akid"], r"\b(AKID[A-Za-z0-9]{32})\b"),
        // OpenShift / Kubernetes.
        token("openshift-user-token", "OpenShift user token", &["sha256~"], r"\b(sha256~[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)"),
        token(
            "kubernetes-secret-yaml",
            "Kubernetes Secret holding a real value (each data entry decoded and judged)",
            &["secret"],
            r"(?m)^[ \t]+(?P<name>[\w.\-]+):[ \t]*(?:[|>][\-+]?[ \t]*\r?\n[ \t]+)?[\x22']?([^\s\x22'#][^\s\x22']{3,}?)[\x22']?[ \t]*\r?$",
        )
        .group(2)
        .path(r"(?i)\.ya?ml$")
        .kind(super::Kind::Raw)
        .lines(40, 40)
        .check(checks::kubernetes_secret),
        // HashiCorp.
        token(
            "hashicorp-tf-api-token",
            "Terraform Cloud / Enterprise API token",
            &[".atlasv1."],
            r"\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9\-_=]{60,70})(?:[^A-Za-z0-9\-_=]|$)",
        ),
        token("vault-service-token", "HashiCorp Vault service token", &["hvs."], r"\b(hvs\.[A-Za-z0-9_\-]{24,200})(?:[^A-Za-z0-9_\-]|$)"),
        token("vault-batch-token", "HashiCorp Vault batch token", &["hvb."], r"\b(hvb\.[A-Za-z0-9_\-]{24,300})(?:[^A-Za-z0-9_\-]|$)"),
        token("vault-recovery-token", "HashiCorp Vault recovery token", &["hvr."], r"\b(hvr\.[A-Za-z0-9_\-]{24,200})(?:[^A-Za-z0-9_\-]|$)"),
        context("vault-legacy-token", "HashiCorp Vault token (legacy s. format)", &["vault", "token"], r"s\.[A-Za-z0-9]{24}")
            .check(|c| {
                let s = &c.secret[2..];
                s.iter().any(u8::is_ascii_digit) && s.iter().any(u8::is_ascii_uppercase) && s.iter().any(u8::is_ascii_lowercase)
            }),
        token(
            "hashicorp-tf-password",
            "Password in a Terraform / HCL file",
            &["password"],
            r#"(?i:[\w\-]*password)[ \t]*=[ \t]*"([^"\s$]{8,128})""#,
        )
        .path(r"(?i)\.(?:tf|hcl|tfvars)$")
        .kind(super::Kind::Raw)
        .check(|c| {
            use super::super::detect::noise;
            !noise::is_placeholder(c.secret) && !noise::is_reference(c.secret) && !noise::NON_SECRET_VALUES.iter().any(|w| c.secret.eq_ignore_ascii_case(w.as_bytes()))
        }),
        // Infrastructure tools.
        token("pulumi-api-token", "Pulumi access token", &["pul-"], r"\b(pul-[a-f0-9]{40})\b"),
        token("doppler-api-token", "Doppler token", &["dp."], r"\b(dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9_\-]{40,44})(?:[^A-Za-z0-9_\-]|$)"),
        token("flyio-access-token", "Fly.io access token", &["fo1_", "fm1", "fm2_"], r"\b((?:fo1_[A-Za-z0-9_\-]{43}|fm1[ar]_[A-Za-z0-9+/=_\-]{100,}|fm2_[A-Za-z0-9+/=_\-]{100,}))"),
        context("netlify-access-token", "Netlify access token", &["netlify"], r"[A-Za-z0-9=_\-]{40,46}"),
        token("render-api-key", "Render API key", &["rnd_"], r"\b(rnd_[A-Za-z0-9]{32})\b"),
        token("scalingo-api-token", "Scalingo API token", &["tk-us-"], r"\b(tk-us-[A-Za-z0-9_\-]{48})(?:[^A-Za-z0-9_\-]|$)"),
        token("defined-networking-api-token", "Defined Networking API token", &["dnkey-"], r"\b(dnkey-[a-z0-9=_\-]{26}-[a-z0-9=_\-]{52})"),
        token("planetscale-password", "PlanetScale database password", &["pscale_pw_"], r"\b(pscale_pw_[A-Za-z0-9=\-_.]{32,64})"),
        token("planetscale-api-token", "PlanetScale service token", &["pscale_tkn_"], r"\b(pscale_tkn_[A-Za-z0-9=\-_.]{32,64})"),
        token("planetscale-oauth-token", "PlanetScale OAuth token", &["pscale_oauth_"], r"\b(pscale_oauth_[A-Za-z0-9=\-_.]{32,64})"),
        token("clickhouse-cloud-api-secret-key", "ClickHouse Cloud API secret key", &["4b1d"], r"\b(4b1d[A-Za-z0-9]{38})\b"),
        token("databricks-api-token", "Databricks personal access token", &["dapi"], r"\b(dapi[a-f0-9]{32}(?:-\d)?)\b"),
        context("confluent-secret-key", "Confluent Cloud API secret", &["confluent"], r"[A-Za-z0-9+/]{64}"),
        context("confluent-access-token", "Confluent Cloud API key", &["confluent"], r"[A-Z0-9]{16}"),
    ]
}
