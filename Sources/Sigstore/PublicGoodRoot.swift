// The sigstore public-good TUF root (root.json version 15 of https://tuf-repo-cdn.sigstore.dev), public data
// published by sigstore/root-signing, embedded as sigstore clients embed it: the starting point for
// `signers.x509.tuf.mirror.url` when no `signers.x509.tuf.root.file` is pinned. The TUF client walks the mirror's
// later roots from here (an expired embedded root is fine: only the newest root must be unexpired).
// Copied from the file sigstore-python 4.5.1 ships; regenerate from sigstore/root-signing when it rotates far.

/// The embedded public-good root.
package enum PublicGoodTUFRoot {
    package static let mirror = "https://tuf-repo-cdn.sigstore.dev"
    package static let json = #"""
        {
         "signatures": [
          {
           "keyid": "e71a54d543835ba86adad9460379c7641fb8726d164ea766801a1c522aba7ea2",
           "sig": "3045022100ea2f374f409810e2db950749d9cfed09a15b6a5e25f3d5ffd0799459d7bee167022028d3acdde6dbd5034cfad222d31b41090ee21894e2c46cb8974198ab0377db44"
          },
          {
           "keyid": "22f4caec6d8e6f9555af66b3d4c3cb06a3bb23fdc7e39c916c61f462e6f52b06",
           "sig": "304402207ebb24e3237e470691d7875903a7754d0ef2ae7e7b5024a7888c9a38a52deecd02206ed5ad1c6f4fab46995843ab6b23f9420c5a4cf6ce1cb2cb2a6fc2e87e2ef3e1"
          },
          {
           "keyid": "61643838125b440b40db6942f5cb5a31c0dc04368316eb2aaa58b95904a58222",
           "sig": "304602210089d9dfd8e106cc958088a4da3c8cf7254ab6f65a9647d37ada730ef4763c5163022100d882ee744615be79861e214e1eeb9e1eddf6a1e203a201b4c5d03f5224d71d16"
          },
          {
           "keyid": "a687e5bf4fab82b0ee58d46e05c9535145a2c9afb458f43d42b45ca0fdce2a70",
           "sig": "304502210088bd4b88e83f586ce568d27d04214c4ab3fd1894178ef015303d56afa939205302205538ebab93876abb9075ad77114bff28a0d79a7cc229b534a0c5ced5526b48e7"
          },
          {
           "keyid": "183e64f37670dc13ca0d28995a3053f3740954ddce44321a41e46534cf44e632",
           "sig": "3045022100f35b07e938d4949caf82e69e86cc9db3b69b6dbc6740c1f343d06893f996fbeb022001e847d816259a96a49e42779a2350dab97b71c8ae7e26b2380c6fa7f58131b3"
          }
         ],
         "signed": {
          "_type": "root",
          "consistent_snapshot": true,
          "expires": "2026-11-20T13:58:18Z",
          "keys": {
           "0c87432c3bf09fd99189fdc32fa5eaedf4e4a5fac7bab73fa04a2e0fc64af6f5": {
            "keyid_hash_algorithms": [
             "sha256",
             "sha512"
            ],
            "keytype": "ecdsa",
            "keyval": {
             "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWRiGr5+j+3J5SsH+Ztr5nE2H2wO7\nBV+nO3s93gLca18qTOzHY1oWyAGDykMSsGTUBSt9D+An0KfKsD2mfSM42Q==\n-----END PUBLIC KEY-----\n"
            },
            "scheme": "ecdsa-sha2-nistp256",
            "x-tuf-on-ci-online-uri": "gcpkms:projects/sigstore-root-signing/locations/global/keyRings/root/cryptoKeys/timestamp/cryptoKeyVersions/1"
           },
           "183e64f37670dc13ca0d28995a3053f3740954ddce44321a41e46534cf44e632": {
            "keytype": "ecdsa",
            "keyval": {
             "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMxpPOJCIZ5otG4106fGJseEQi3V9\npkMYQ4uyV9Tj1M7WHXIyLG+jkfvuG0glQ1JZbRZZBV3gAR4sojdGHISeow==\n-----END PUBLIC KEY-----\n"
            },
            "scheme": "ecdsa-sha2-nistp256",
            "x-tuf-on-ci-keyowner": "@lance"
           },
           "22f4caec6d8e6f9555af66b3d4c3cb06a3bb23fdc7e39c916c61f462e6f52b06": {
            "keyid_hash_algorithms": [
             "sha256",
             "sha512"
            ],
            "keytype": "ecdsa",
            "keyval": {
             "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzBzVOmHCPojMVLSI364WiiV8NPrD\n6IgRxVliskz/v+y3JER5mcVGcONliDcWMC5J2lfHmjPNPhb4H7xm8LzfSA==\n-----END PUBLIC KEY-----\n"
            },
            "scheme": "ecdsa-sha2-nistp256",
            "x-tuf-on-ci-keyowner": "@santiagotorres"
           },
           "61643838125b440b40db6942f5cb5a31c0dc04368316eb2aaa58b95904a58222": {
            "keyid_hash_algorithms": [
             "sha256",
             "sha512"
            ],
            "keytype": "ecdsa",
            "keyval": {
             "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEinikSsAQmYkNeH5eYq/CnIzLaacO\nxlSaawQDOwqKy/tCqxq5xxPSJc21K4WIhs9GyOkKfzueY3GILzcMJZ4cWw==\n-----END PUBLIC KEY-----\n"
            },
            "scheme": "ecdsa-sha2-nistp256",
            "x-tuf-on-ci-keyowner": "@bobcallaway"
           },
           "a687e5bf4fab82b0ee58d46e05c9535145a2c9afb458f43d42b45ca0fdce2a70": {
            "keyid_hash_algorithms": [
             "sha256",
             "sha512"
            ],
            "keytype": "ecdsa",
            "keyval": {
             "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0ghrh92Lw1Yr3idGV5WqCtMDB8Cx\n+D8hdC4w2ZLNIplVRoVGLskYa3gheMyOjiJ8kPi15aQ2//7P+oj7UvJPGw==\n-----END PUBLIC KEY-----\n"
            },
            "scheme": "ecdsa-sha2-nistp256",
            "x-tuf-on-ci-keyowner": "@joshuagl"
           },
           "e71a54d543835ba86adad9460379c7641fb8726d164ea766801a1c522aba7ea2": {
            "keyid_hash_algorithms": [
             "sha256",
             "sha512"
            ],
            "keytype": "ecdsa",
            "keyval": {
             "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEXsz3SZXFb8jMV42j6pJlyjbjR8K\nN3Bwocexq6LMIb5qsWKOQvLN16NUefLc4HswOoumRsVVaajSpQS6fobkRw==\n-----END PUBLIC KEY-----\n"
            },
            "scheme": "ecdsa-sha2-nistp256",
            "x-tuf-on-ci-keyowner": "@mnm678"
           }
          },
          "roles": {
           "root": {
            "keyids": [
             "e71a54d543835ba86adad9460379c7641fb8726d164ea766801a1c522aba7ea2",
             "22f4caec6d8e6f9555af66b3d4c3cb06a3bb23fdc7e39c916c61f462e6f52b06",
             "61643838125b440b40db6942f5cb5a31c0dc04368316eb2aaa58b95904a58222",
             "a687e5bf4fab82b0ee58d46e05c9535145a2c9afb458f43d42b45ca0fdce2a70",
             "183e64f37670dc13ca0d28995a3053f3740954ddce44321a41e46534cf44e632"
            ],
            "threshold": 3
           },
           "snapshot": {
            "keyids": [
             "0c87432c3bf09fd99189fdc32fa5eaedf4e4a5fac7bab73fa04a2e0fc64af6f5"
            ],
            "threshold": 1,
            "x-tuf-on-ci-expiry-period": 3650,
            "x-tuf-on-ci-signing-period": 365
           },
           "targets": {
            "keyids": [
             "e71a54d543835ba86adad9460379c7641fb8726d164ea766801a1c522aba7ea2",
             "22f4caec6d8e6f9555af66b3d4c3cb06a3bb23fdc7e39c916c61f462e6f52b06",
             "61643838125b440b40db6942f5cb5a31c0dc04368316eb2aaa58b95904a58222",
             "a687e5bf4fab82b0ee58d46e05c9535145a2c9afb458f43d42b45ca0fdce2a70",
             "183e64f37670dc13ca0d28995a3053f3740954ddce44321a41e46534cf44e632"
            ],
            "threshold": 3
           },
           "timestamp": {
            "keyids": [
             "0c87432c3bf09fd99189fdc32fa5eaedf4e4a5fac7bab73fa04a2e0fc64af6f5"
            ],
            "threshold": 1,
            "x-tuf-on-ci-expiry-period": 7,
            "x-tuf-on-ci-signing-period": 6
           }
          },
          "spec_version": "1.0",
          "version": 15,
          "x-tuf-on-ci-expiry-period": 197,
          "x-tuf-on-ci-signing-period": 46
         }
        }
        """#
}
