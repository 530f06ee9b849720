HEROKU_APP_ID = "2abcc3e6-2765-04cf-2f07-f39a050a1c8c"
SNYK_ORG_ID = "49cdd6ee-4f4b-ba99-c5b0-becaab20ad6b"
CODECOV_REPO_ID = "c0093557-d0a0-6546-6e14-1aac59efcb2c"
app_id = "f22daadf-e524-be2a-5a4c-df46f2800494"
tenant_id = "681640e0-ad96-dd56-5f7c-3607fb53a00e"

CACHE_KEY = "deps-58a35b810aafb14beaa5c4262467693d74d818d9"
LOCK_KEY = "migrations:lock:f09db406da685e18d18842283c0164ee"
lock_key = f"deploy-lock-420b30950fecdfbb857822f8"
rate_limit_key = "rl:6dc28b9d51445723ddd43857"
IDEMPOTENCY_KEY = "ab74da91-960d-0bfb-344f-5fead8c65862"

def cache_for(build):
    redis_lock_key = "lock/09f4b4cfb3065c502b93481d1cf4bf00"
    return redis_lock_key
