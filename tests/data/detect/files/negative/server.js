const apiToken = process.env.API_TOKEN;
const secretKey = config.get("secretKey");
const stripe = require("stripe")(process.env.STRIPE_SECRET_KEY);
const publishableKey = "pk_live_Hzyw4rJzo5SNN9VkEyo53H649HneEfPjc9Qw3y7KWOaE3nPgKjUQhXbOyp5xQsROnxY6LDiph6Nv0wy8iEF0yAxa97qXYU2nFwV";
