<?php
return [
    'mailgun' => [
        'domain' => 'mg.acme.example',
        'secret' => 'key-eaef7ca31b39d6d7d423c6e9ed6be614',
    ],
    'square' => ['token' => 'EAAAe_vx_6m436ujbOhNNbdpFAxfkzEHoyqS0a02x8c8Y65bq5fC0vrj6y_bLy3h'],
];
