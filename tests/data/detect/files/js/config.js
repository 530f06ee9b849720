// Integration settings, loaded at boot.
module.exports = {
  github: { owner: "acme", token: "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" },
  slack: { botToken: "xoxb-200706466738-4167070336584-83bGL8hdfYE0CyJmL7jfhhR4" },
  openai: { apiKey: "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" },
  retries: 3,
};
