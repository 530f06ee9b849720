const apiToken = process.env.API_TOKEN;
const secretKey = config.get("secretKey");
const stripe = require("stripe")(process.env.STRIPE_SECRET_KEY);
const publishableKey = "pk_live_R6bfqSo9EPiExv5Jtq7gxX2W2nnR8XQLwr5Plpn6NSdUCVU7PHngTV4cPJdraJoVTAHz3SdfvrhZkakcM47N40zCVZDnT6iWCaW";
