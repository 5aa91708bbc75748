/* images: what spec repositories need from libcrypto and libcurl (a digest of
 * a buffer, Ed25519 keys and signatures, a small GET), for cli/ to hand to
 * specs/ through struct spec_io. Loaded like the rest (dl.c): in the static
 * berth each fails with BERTH_E_HELPER. */
#pragma once

#include "common/common.h"

int images_sha256_hex(const void *data, size_t len, char ret[65], berth_error **err);
/* Write an Ed25519 private key to key_path (PEM, mode 0600, never over an
 * existing file) and its public key to key_path.pub. */
int images_key_generate(const char *key_path, berth_error **err);
/* The Ed25519 signature of data, as 128 hex digits. */
int images_sign(const char *key_path, const void *data, size_t len, char **ret_sig_hex, berth_error **err);
/* 0 if sig_hex is data's signature by pubkey_pem; else BERTH_E_DIGEST. */
int images_verify(const char *pubkey_pem, const void *data, size_t len, const char *sig_hex, berth_error **err);
/* GET url into memory, at most max bytes (BERTH_E_LIMIT past it); 404 and 410
 * are BERTH_E_NOTFOUND. $BERTH_CA_BUNDLE adds trust as for pulls. */
int images_http_get(const char *url, size_t max, char **ret_buf, size_t *ret_len, berth_error **err);
/* Read a cached layer back against its archive (verify): *ret_diffs is NULL
 * when the folder still holds what the blob with this digest unpacks to,
 * else one line per difference. BERTH_E_NOTFOUND if it is not cached. */
int images_layer_check(const char *cache_dir, const char *sha256, const char *url, char ***ret_diffs,
                       berth_error **err);
