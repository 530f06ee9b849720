//! Code hosting, CI/CD and package registries.

use super::checks;
use super::{Def, context, token};

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![
        // GitHub: prefix, 30 random base62 characters, 6-character CRC32 checksum.
        token(
            "github-pat",
            "GitHub personal access token (classic)",
            &["ghp_"],
            r"\b(ghp_[A-Za-z0-9]{36})\b",
        )
        .note_unless(
            checks::crc32_base62_ok,
            "its checksum does not match: a typo or a made-up value, or a real token edited — check it",
        ),
        token(
            "github-oauth",
            "GitHub OAuth access token",
            &["gho_"],
            r"\b(gho_[A-Za-z0-9]{36})\b",
        )
        .validate(checks::crc32_base62_ok),
        token(
            "github-app-token",
            "GitHub App user-to-server or server-to-server token",
            &["ghu_", "ghs_"],
            r"\b((?:ghu|ghs)_[A-Za-z0-9]{36})\b",
        )
        .validate(checks::crc32_base62_ok),
        token(
            "github-refresh-token",
            "GitHub refresh token",
            &["ghr_"],
            r"\b(ghr_[A-Za-z0-9]{36,76})\b",
        ),
        token(
            "github-fine-grained-pat",
            "GitHub fine-grained personal access token",
            &["github_pat_"],
            r"\b(github_pat_[A-Za-z0-9_]{82})\b",
        ),
        // GitLab: every documented token prefix.
        token(
            "gitlab-pat",
            "GitLab personal, project or group access token",
            &["glpat-"],
            r"\b(glpat-[A-Za-z0-9_\-]{20,300}(?:\.[A-Za-z0-9_\-]{2,}){0,2})",
        ),
        token(
            "gitlab-deploy-token",
            "GitLab deploy token",
            &["gldt-"],
            r"\b(gldt-[A-Za-z0-9_\-]{20,300}(?:\.[A-Za-z0-9_\-]{2,}){0,2})",
        ),
        token(
            "gitlab-runner-authentication-token",
            "GitLab runner authentication token",
            &["glrt-"],
            r"\b(glrt-[A-Za-z0-9_\-]{20,300}(?:\.[A-Za-z0-9_\-]{2,}){0,2})",
        ),
        token(
            "gitlab-runner-registration-token",
            "GitLab runner registration token",
            &["gr1348941", "glrtr-"],
            r"\b((?:GR1348941|glrtr-)[A-Za-z0-9_\-]{20,})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-ptt",
            "GitLab pipeline trigger token",
            &["glptt-"],
            r"\b(glptt-[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-feed-token",
            "GitLab feed token",
            &["glft-"],
            r"\b(glft-[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-incoming-mail-token",
            "GitLab incoming mail token",
            &["glimt-"],
            r"\b(glimt-[A-Za-z0-9_\-]{25,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-scim-token",
            "GitLab SCIM / OAuth application token",
            &["glsoat-"],
            r"\b(glsoat-[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-cicd-job-token",
            "GitLab CI/CD job token",
            &["glcbt-"],
            r"\b(glcbt-(?:[0-9a-fA-F]{1,5}_)?[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-oauth-app-secret",
            "GitLab OAuth application secret",
            &["gloas-"],
            r"\b(gloas-[A-Za-z0-9_\-]{64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-kubernetes-agent-token",
            "GitLab agent for Kubernetes token",
            &["glagent-"],
            r"\b(glagent-[A-Za-z0-9_\-]{50,300})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-feature-flag-client-token",
            "GitLab feature flags client token",
            &["glffct-"],
            r"\b(glffct-[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-workspace-token",
            "GitLab workspace token",
            &["glwt-"],
            r"\b(glwt-[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "gitlab-session-cookie",
            "GitLab session cookie",
            &["_gitlab_session="],
            r"_gitlab_session=([0-9a-z]{32})",
        ),
        // Bitbucket and Atlassian.
        token(
            "bitbucket-app-password",
            "Bitbucket app password / API token",
            &["atbb"],
            r"\b(ATBB[A-Za-z0-9_=.\-]{32})(?:[^A-Za-z0-9_\-]|$)",
        ),
        context(
            "bitbucket-client-id",
            "Bitbucket OAuth consumer key",
            &["bitbucket"],
            r"[a-zA-Z0-9]{32}",
        ),
        context(
            "bitbucket-client-secret",
            "Bitbucket OAuth consumer secret",
            &["bitbucket"],
            r"[a-zA-Z0-9=_\-]{64}",
        ),
        token(
            "atlassian-api-token-v2",
            "Atlassian API token",
            &["atatt3"],
            r"\b(ATATT3[A-Za-z0-9_\-=]{186})",
        ),
        context(
            "atlassian-api-token",
            "Atlassian / Jira / Confluence API token",
            &["atlassian", "confluence", "jira"],
            r"[a-zA-Z0-9]{24}",
        ),
        // Package registries.
        token(
            "npm-access-token",
            "npm access token",
            &["npm_"],
            r"\b(npm_[A-Za-z0-9]{36})\b",
        )
        .validate(checks::crc32_base62_ok),
        token(
            "npmrc-auth-token",
            "npm registry auth token in .npmrc",
            &["_authtoken"],
            r"(?i:_authToken)[ \t]*=[ \t]*([A-Za-z0-9_\-.=+/]{20,})",
        )
        .kind(super::Kind::Context),
        token(
            "pypi-upload-token",
            "PyPI upload token",
            &["pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw"],
            r"\b(pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,})",
        ),
        token(
            "dockerhub-pat",
            "Docker Hub personal or organization access token",
            &["dckr_pat_", "dckr_oat_"],
            r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,36})",
        ),
        token(
            "rubygems-api-token",
            "RubyGems API key",
            &["rubygems_"],
            r"\b(rubygems_[a-f0-9]{48})\b",
        ),
        token(
            "nuget-api-key",
            "NuGet API key",
            &["oy2"],
            r"\b(oy2[a-z0-9]{43})\b",
        ),
        token(
            "nuget-config-password",
            "Password in NuGet.config",
            &["password"],
            r#"<add\s+key=["'](?i:ClearTextPassword|Password)["']\s+value=["']([^"']{8,})["']"#,
        )
        .path(r"(?i)(?:^|/)nuget\.config$")
        .kind(super::Kind::Context),
        token(
            "clojars-api-token",
            "Clojars deploy token",
            &["clojars_"],
            r"\b(CLOJARS_[a-z0-9]{60})\b",
        ),
        token(
            "jfrog-api-key",
            "JFrog Artifactory API key",
            &["akcp"],
            r"\b(AKCp[A-Za-z0-9]{69})\b",
        ),
        token(
            "jfrog-reference-token",
            "JFrog Artifactory reference token",
            &["cmvmd"],
            r"\b(cmVmd[A-Za-z0-9]{59})\b",
        ),
        context(
            "jfrog-identity-token",
            "JFrog identity / access token",
            &["jfrog", "artifactory"],
            r"[A-Za-z0-9]{64}|[A-Za-z0-9]{73}",
        ),
        context(
            "cargo-registry-token",
            "crates.io API token",
            &["cargo", "crates", "registry"],
            r"cio[A-Za-z0-9]{32}",
        ),
        token(
            "hex-api-key",
            "Hex.pm API key",
            &["hex_api_key"],
            r"(?i:HEX_API_KEY)[ \t]*[=:][ \t]*[\x22']?([a-f0-9]{32})\b",
        ),
        // CI/CD and developer tooling.
        token(
            "circleci-pat",
            "CircleCI personal API token",
            &["ccipat_"],
            r"\b(CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40})\b",
        ),
        context(
            "circleci-api-token",
            "CircleCI API token",
            &["circleci", "circle_token"],
            r"[a-f0-9]{40}",
        ),
        context(
            "travisci-access-token",
            "Travis CI access token",
            &["travis"],
            r"[A-Za-z0-9]{22}",
        ),
        context(
            "droneci-access-token",
            "Drone CI access token",
            &["drone", "droneci"],
            r"[A-Za-z0-9]{32}",
        ),
        context(
            "codecov-access-token",
            "Codecov access token",
            &["codecov"],
            r"[A-Za-z0-9]{32}|[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
        ),
        token(
            "sonar-token",
            "SonarQube / SonarCloud token",
            &["squ_", "sqp_", "sqa_"],
            r"\b((?:squ|sqp|sqa)_[a-f0-9]{40})\b",
        ),
        context(
            "sonar-api-token",
            "SonarQube / SonarCloud token",
            &["sonar"],
            r"(?:squ_|sqp_|sqa_)?[A-Za-z0-9]{40}",
        ),
        context(
            "snyk-api-token",
            "Snyk API token",
            &["snyk"],
            r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
        ),
        token(
            "harness-api-key",
            "Harness API key or token",
            &["pat.", "sat."],
            r"\b((?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})\b",
        ),
        token(
            "octopus-deploy-api-key",
            "Octopus Deploy API key",
            &["api-"],
            r"\b(API-[A-Z0-9]{26})\b",
        )
        .entropy(3.5),
        token(
            "sourcegraph-access-token",
            "Sourcegraph access token",
            &["sgp_", "sgph_"],
            r"\b((?:sgp|sgph)_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40})\b",
        ),
        context(
            "sourcegraph-legacy-token",
            "Sourcegraph access token (legacy)",
            &["sourcegraph"],
            r"[a-fA-F0-9]{40}",
        ),
        token(
            "postman-api-token",
            "Postman API key",
            &["pmak-"],
            r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
        ),
        token(
            "prefect-api-token",
            "Prefect API key",
            &["pnu_"],
            r"\b(pnu_[A-Za-z0-9]{36})\b",
        ),
        token(
            "readme-api-token",
            "ReadMe API key",
            &["rdme_"],
            r"\b(rdme_[a-z0-9]{70})\b",
        ),
        token(
            "linear-api-key",
            "Linear API key",
            &["lin_api_"],
            r"\b(lin_api_[A-Za-z0-9]{40})\b",
        ),
        token(
            "linear-oauth-token",
            "Linear OAuth token",
            &["lin_oauth_"],
            r"\b(lin_oauth_[a-f0-9]{64})\b",
        ),
        context(
            "linear-client-secret",
            "Linear OAuth client secret",
            &["linear"],
            r"[a-f0-9]{32}",
        ),
        token(
            "infracost-api-token",
            "Infracost API key",
            &["ico-"],
            r"(?:^|[\s\x22'=:`])(ico-[A-Za-z0-9]{32})\b",
        ),
        token(
            "settlemint-token",
            "SettleMint access token",
            &["sm_pat_", "sm_aat_", "sm_sat_"],
            r"\b(sm_(?:pat|aat|sat)_[A-Za-z0-9]{16})\b",
        ),
        token(
            "typeform-api-token",
            "Typeform personal token",
            &["tfp_"],
            r"\b(tfp_[A-Za-z0-9\-_.=]{59})",
        ),
        token(
            "frameio-api-token",
            "Frame.io API token",
            &["fio-u-"],
            r"\b(fio-u-[A-Za-z0-9\-_=]{64})",
        ),
        context(
            "launchdarkly-access-token",
            "LaunchDarkly access token",
            &["launchdarkly"],
            r"[A-Za-z0-9=_\-]{40}",
        ),
        token(
            "launchdarkly-sdk-key",
            "LaunchDarkly SDK key or API token",
            &["launchdarkly", "ld_sdk", "ld_api"],
            r"\b((?:sdk|api)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b",
        )
        .check(|c| {
            let l = c.window.to_ascii_lowercase();
            super::super::detect::noise::contains(&l, b"launchdarkly")
                || super::super::detect::noise::contains(&l, b"ld_")
        }),
        context(
            "contentful-delivery-api-token",
            "Contentful delivery API token",
            &["contentful"],
            r"[A-Za-z0-9=_\-]{43}",
        ),
        token(
            "contentful-pat",
            "Contentful personal access token",
            &["cfpat-"],
            r"\b(CFPAT-[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)",
        ),
        token(
            "shopify-access-token",
            "Shopify access token",
            &["shpat_", "shpca_", "shppa_", "shpss_"],
            r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
        ),
        token(
            "terraform-registry-token",
            "Terraform registry token in .terraformrc",
            &["token"],
            r#"(?m)^[ \t]*token[ \t]*=[ \t]*"([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9\-_=]{60,70})""#,
        )
        .path(r"(?i)(?:\.terraformrc|terraform\.rc|credentials\.tfrc\.json)$"),
    ]
}
