package com.acme;

public class App {
    // Service-to-service session issued by the auth server.
    private static final String SESSION = "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAiakYwdlB1UUVSZnVzIiwgImlhdCI6IDE3MDAwMDAwMDB9.nBf15MGaHW6OmydpRvSnib0AFqeVfTMmtI3LI8a1z7o";
    private static final String DATADOG_API_KEY = "75b10bc89998a976973de3fb9abed684";

    public static void main(String[] args) {
        System.out.println(SESSION.length() + DATADOG_API_KEY.length());
    }
}
