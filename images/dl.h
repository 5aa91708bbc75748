/* images: libcurl, libarchive and libcrypto, loaded with dlopen() on first use.
 *
 * Linking them costs every berth start ~5 ms (some 40 libraries and their
 * constructors; libcrypto's alone is 0.6 ms) although only pull and pack need them; systemd loads its
 * optional libraries the same way. The headers give the types; the code calls
 * sym_<function>() through the pointers below once dl_curl_load() or
 * dl_archive_load() succeeded. Private to the module. */
#pragma once

/* The typecheck macros wrap curl_easy_setopt() itself; we call through pointers. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "common/common.h"

#define DL_CURL_SONAME "libcurl.so.4"
#define DL_CURL_PACKAGE "libcurl4"
#define DL_ARCHIVE_SONAME "libarchive.so.13"
#define DL_ARCHIVE_PACKAGE "libarchive13"
#define DL_CRYPTO_SONAME "libcrypto.so.3"
#define DL_CRYPTO_PACKAGE "libssl3"

#define DL_CURL_SYMBOLS(X)                                                                      \
        X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_reset)         \
        X(curl_easy_setopt) X(curl_easy_strerror) X(curl_getdate) X(curl_global_init)          \
        X(curl_multi_add_handle) X(curl_multi_cleanup) X(curl_multi_info_read)                 \
        X(curl_multi_init) X(curl_multi_perform) X(curl_multi_poll)                            \
        X(curl_multi_remove_handle) X(curl_multi_setopt)                                        \
        X(curl_easy_perform) X(curl_slist_append) X(curl_slist_free_all)

#define DL_ARCHIVE_SYMBOLS(X)                                                                   \
        X(archive_entry_filetype) X(archive_entry_free) X(archive_entry_hardlink)               \
        X(archive_entry_mtime) X(archive_entry_mtime_nsec) X(archive_entry_new)                 \
        X(archive_entry_pathname) X(archive_entry_perm) X(archive_entry_rdevmajor)              \
        X(archive_entry_rdevminor) X(archive_entry_set_filetype) X(archive_entry_set_gid)       \
        X(archive_entry_set_hardlink) X(archive_entry_set_mtime) X(archive_entry_set_pathname)  \
        X(archive_entry_set_perm) X(archive_entry_set_size) X(archive_entry_set_symlink)        \
        X(archive_entry_set_uid) X(archive_entry_size) X(archive_entry_size_is_set)             \
        X(archive_entry_symlink) X(archive_entry_xattr_next) X(archive_entry_xattr_reset)       \
        X(archive_error_string) X(archive_filter_bytes) X(archive_filter_code)                  \
        X(archive_filter_count) X(archive_filter_name)                                          \
        X(archive_read_data) X(archive_read_data_block) X(archive_read_free)                    \
        X(archive_read_new) X(archive_read_next_header) X(archive_read_open)                    \
        X(archive_read_open_fd)                                                                 \
        X(archive_read_support_format_raw)                                                      \
        X(archive_read_support_filter_bzip2) X(archive_read_support_filter_gzip)                \
        X(archive_read_support_filter_xz) X(archive_read_support_filter_zstd)                   \
        X(archive_read_support_format_tar) X(archive_set_error) X(archive_write_add_filter_zstd) \
        X(archive_write_close) X(archive_write_data) X(archive_write_free)                      \
        X(archive_write_header) X(archive_write_new) X(archive_write_open2)                     \
        X(archive_write_set_bytes_in_last_block) X(archive_write_set_format_pax_restricted)     \
        X(archive_write_set_options)

#define DL_CRYPTO_SYMBOLS(X)                                                                    \
        X(EVP_DigestFinal_ex) X(EVP_DigestInit_ex) X(EVP_DigestUpdate) X(EVP_MD_CTX_free)         \
        X(EVP_MD_CTX_new) X(EVP_sha256)

#define DL_DECLARE(sym) extern __typeof__(sym) *sym_##sym;
DL_CURL_SYMBOLS(DL_DECLARE)
DL_ARCHIVE_SYMBOLS(DL_DECLARE)
DL_CRYPTO_SYMBOLS(DL_DECLARE)
#undef DL_DECLARE

/* Load the library and resolve every symbol, once per process (thread-safe);
 * later calls return the first outcome. A missing library or symbol is an
 * error naming the library and the Debian package that provides it. */
int dl_curl_load(berth_error **err);
int dl_archive_load(berth_error **err);
int dl_crypto_load(berth_error **err);

/* One library's table; dl_open_table() is what the loaders use, exposed for tests. */
struct dl_symbol {
        const char *name;
        void **ptr;
};
/* dlopen soname and resolve syms into their pointers. On failure no pointer is
 * written and the library is closed again. */
int dl_open_table(const char *soname, const char *package, const struct dl_symbol *syms, size_t n, void **ret_handle,
                  berth_error **err);
