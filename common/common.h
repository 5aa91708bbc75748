/* common: error object, cleanup helpers, logging, bounded buffers, fs helpers,
 * paths inside an untrusted root.
 * libc only. Rules in docs/ERRORS.md. */
#pragma once

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define BERTH_VERSION_STRING "0.1.0"

/* ---- errors ------------------------------------------------------------ */

/* What went wrong, coarse enough for cli/ to pick an exit status. */
enum berth_error_kind {
        BERTH_E_FAILED = 1,   /* an operation failed (exit 1) */
        BERTH_E_INVALID,      /* invalid spec or input document (exit 2) */
        BERTH_E_USAGE,        /* bad command line (exit 2) */
        BERTH_E_LIMIT,        /* an input went past a bound */
        BERTH_E_DIGEST,       /* content did not match its digest */
        BERTH_E_NOTFOUND,     /* a named thing does not exist */
        BERTH_E_NOTIMPL,      /* verb or feature not built yet */
        BERTH_E_NOEXEC,       /* command found but not executable (126) */
        BERTH_E_NOCMD,        /* command not found (127) */
};

typedef struct berth_error {
        int kind;     /* enum berth_error_kind */
        int errnum;   /* errno at the innermost failure, or 0 */
        char *msg;    /* context chain, outermost first, joined by ": " */
} berth_error;

/* Set *err (if err is non-NULL and *err is NULL) and return -1.
 * errnum is an errno value or 0. */
int berth_error_make(berth_error **err, int kind, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int berth_error_makev(berth_error **err, int kind, int errnum, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

/* The user's name and home folder (either may be NULL).
 * 0, or -1 with err (BERTH_E_NOTFOUND: no such user). */
int berth_passwd(uid_t uid, char **ret_name, char **ret_home, berth_error **err);

/* The common case: a failed operation with errno. */
#define berth_err(err, errnum, ...) berth_error_make((err), BERTH_E_FAILED, (errnum), __VA_ARGS__)

/* Prefix context onto an existing error; returns -1. No-op if *err is NULL. */
int berth_error_wrap(berth_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand the error in *from on to err, keeping the first (if *err is already
 * set, *from is dropped); *from is NULL afterwards. Returns -1. For an error
 * a callback or another thread kept aside. */
int berth_error_move(berth_error **err, berth_error **from);

/* The one-line text a user sees: msg, plus ": strerror(errnum)" if set. */
char *berth_error_text(const berth_error *e);
void berth_error_free(berth_error *e);
static inline void berth_error_freep(berth_error **e) { if (*e) berth_error_free(*e); *e = NULL; }

/* ---- cleanup ------------------------------------------------------------ */

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **) p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_ _cleanup_(strv_freep)
#define _cleanup_error_ _cleanup_(berth_error_freep)

/* For a library handle: DEFINE_CLEANUP_FUNC(yaml_parser_t *, my_yaml_free)
 * defines my_yaml_freep(yaml_parser_t **) that calls my_yaml_free on non-NULL. */
#define DEFINE_CLEANUP_FUNC(type, func)                                    \
        static inline void func##p(type *p) {                              \
                if (*p) func(*p);                                          \
        }

#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- warnings ----------------------------------------------------------- */

/* What a user should know that is not an error: a spec key berth does not
 * act on, a limit the host cannot enforce, a fallback taken. Libraries add
 * them and never print; cli/ shows each ("berth: warning: ...", or
 * FILE:LINE:COL first) and lists them as `warnings` under --json. */
typedef struct berth_warning {
        char *key;      /* the spec key it is about ("ports", "resources.cpus"), or NULL */
        char *file;     /* where the key was written, or NULL */
        int line, col;  /* 1-based; 0 when not known */
        char *msg;
} berth_warning;

typedef struct berth_warnings {
        berth_warning *v;
        size_t n;
        /* Told of each as it is added: cli/ shows it before a command runs. */
        void (*added)(const berth_warning *w, void *userdata);
        void *userdata;
} berth_warnings;

/* Add a warning to w; a NULL w drops it (the caller did not ask). */
void berth_warn(berth_warnings *w, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void berth_warn_at(berth_warnings *w, const char *file, int line, int col, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
/* Add every warning of from to to, in order, and empty from. */
void berth_warnings_move(berth_warnings *to, berth_warnings *from);
void berth_warnings_clear(berth_warnings *w);
/* "FILE:LINE:COL: warning: key: msg" where the position is known, else
 * "berth: warning: key: msg". */
char *berth_warning_text(const berth_warning *x);

/* ---- logging ------------------------------------------------------------ */

enum berth_log_level { BERTH_LOG_ERROR, BERTH_LOG_WARN, BERTH_LOG_INFO, BERTH_LOG_DEBUG };

/* Libraries log at debug level only (warnings are data, above); cli/ sets
 * the level: -v shows log_info, -vv log_debug too. */
void berth_log_set_level(int level);
void berth_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_info(...) berth_log(BERTH_LOG_INFO, __VA_ARGS__)
#define log_debug(...) berth_log(BERTH_LOG_DEBUG, __VA_ARGS__)

/* ---- bounded buffer ----------------------------------------------------- */

/* Growable byte buffer with a hard maximum; always NUL-terminated. */
typedef struct dynbuf {
        char *buf;
        size_t len;
        size_t cap;
        size_t max;
        const char *what; /* named in the limit error, e.g. "spec file" */
} dynbuf;

void dynbuf_init(dynbuf *b, size_t max, const char *what);
void dynbuf_free(dynbuf *b);
static inline void dynbuf_freep(dynbuf *b) { dynbuf_free(b); }
int dynbuf_add(dynbuf *b, const void *data, size_t len, berth_error **err);
int dynbuf_printf(dynbuf *b, berth_error **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Hand the buffer to the caller; b is left empty. */
char *dynbuf_take(dynbuf *b, size_t *ret_len);
#define _cleanup_dynbuf_ _cleanup_(dynbuf_freep)

/* ---- strings ------------------------------------------------------------ */

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool streq_ptr(const char *a, const char *b) { return a == b || (a && b && streq(a, b)); }
const char *startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
/* Aborts on out-of-memory, like every allocation here: there is no sane recovery. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
size_t strv_length(char *const *v);
/* FNV-1a, 64 bits: a fast name for contents (cache keys, hash tables), not a
 * digest. Start from FNV1A64_INIT; feed the pieces in order. */
#define FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t fnv1a64(uint64_t h, const void *data, size_t len);
/* v (may be NULL) with s appended, which it takes; returns the new list. */
char **strv_append(char **v, char *s);
/* Edit distance, capped: returns cap+1 once the distance exceeds cap. */
size_t string_distance(const char *a, const char *b, size_t cap);
/* From candidates (NULL-terminated), the closest to word within a small
 * distance, or NULL. For "did you mean" hints. */
const char *closest_match(const char *word, const char *const *candidates);
bool is_hex_string(const char *s, size_t len);
/* Hex of len bytes into out (2*len+1 bytes). */
void hex_encode(const unsigned char *in, size_t len, char *out);

/* ---- files -------------------------------------------------------------- */

/* Read all of fd, failing with BERTH_E_LIMIT past max bytes. */
int read_fd_bounded(int fd, size_t max, const char *what, char **ret_buf, size_t *ret_len, berth_error **err);
/* Same for a file; dirfd may be AT_FDCWD. A missing file is BERTH_E_NOTFOUND. */
int read_file_bounded(int dirfd, const char *path, size_t max, const char *what, char **ret_buf, size_t *ret_len,
                      berth_error **err);
/* Write by temporary file in the same folder, fsync, rename, fsync folder:
 * readers see the old content or the new, never a mix. */
int write_file_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode, berth_error **err);
/* Write all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
int fsync_dirfd_of(int dirfd, const char *path);
/* mkdir -p, each new folder with mode. */
int mkdir_p(const char *path, mode_t mode, berth_error **err);
/* Remove a tree below dirfd without following symlinks. Missing is fine. */
int rm_rf_at(int dirfd, const char *name, berth_error **err);
/* opendir() of path below dirfd ("." for dirfd itself), with extra open flags
 * such as O_NOFOLLOW. NULL with errno set on failure; no fd is left open. */
DIR *opendir_at(int dirfd, const char *path, int flags);
/* A unique temporary name beside name: ".name.tmp-XXXXXX" style. */
char *tmp_name_for(const char *name);

/* ---- paths inside an untrusted root (beneath.c) -------------------------- */

/* Resolve path inside the root rootfd as if rootfd were "/": symlinks and ".."
 * resolve inside it and never leave it, magic links (/proc/self/...) are not
 * followed. openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) where the kernel
 * has it; without it, and to make what is missing or name what failed, a walk
 * one name at a time through folder fds that resolves symlinks itself. */
enum {
        BENEATH_NO_SYMLINKS = 1 << 0, /* refuse any symlink on the way ("goes through the symlink `x`") */
        BENEATH_CREATE = 1 << 1,      /* make what is missing: folders (0755), the last an empty file
                                       * (0644) unless BENEATH_DIRECTORY; never through a symlink */
        BENEATH_DIRECTORY = 1 << 2,   /* the result must be a folder */
        BENEATH_REGULAR = 1 << 3,     /* the result must be a regular file: a FIFO, socket or device
                                       * is refused before it is opened, so nothing blocks */
};
/* oflags: O_PATH, O_RDONLY, ... (O_CLOEXEC added); O_NOFOLLOW leaves a symlink
 * as the last component unfollowed. A missing entry is BERTH_E_NOTFOUND. */
int beneath_open(int rootfd, const char *path, int oflags, unsigned flags, int *ret_fd, berth_error **err);
/* The same in a root made of layers, topmost first, as overlay shows them: a
 * whiteout (char 0:0) hides the name in the layers below, folders merge down
 * to an opaque one (OVERLAY_OPAQUE_XATTR). Never creates. */
int beneath_open_layers(const int *layers, size_t n, const char *path, int oflags, unsigned flags, int *ret_fd,
                        berth_error **err);
/* Read the regular file path inside the root, or the layers, up to max bytes
 * (BERTH_E_LIMIT past it). Anything else there is refused without blocking. */
int beneath_read(int rootfd, const char *path, size_t max, char **ret_buf, size_t *ret_len, berth_error **err);
int beneath_read_layers(const int *layers, size_t n, const char *path, size_t max, char **ret_buf, size_t *ret_len,
                        berth_error **err);

/* Overlay's marks, as berth's layers carry them (docs/IMAGES.md): a whiteout
 * is a character device 0:0; an opaque folder has this xattr set to "y"
 * (overlay mounted with userxattr). */
#define OVERLAY_OPAQUE_XATTR "user.overlay.opaque"
struct stat;
bool is_whiteout_stat(const struct stat *st);

/* ---- berth folders ------------------------------------------------------ */

/* $BERTH_CACHE_DIR, else $XDG_CACHE_HOME/berth, else ~/.cache/berth; created 0700. */
int berth_cache_dir(char **ret, berth_error **err);
/* $BERTH_STATE_DIR, else $XDG_STATE_HOME/berth, else ~/.local/state/berth; created 0700. */
int berth_state_dir(char **ret, berth_error **err);
