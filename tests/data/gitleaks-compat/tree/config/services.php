<?php

return [
    'ses' => [
        'region' => 'eu-west-1',
        // deploy user
        'key' => 'AKIAZ4QR7TXW2MLPKV3N',
    ],
];
