#ifndef AKBACKUP_CLIBSSH2_SHIM_H
#define AKBACKUP_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_publickey.h>
// Swift cannot see libssh2's function-like macros; these wrappers expose what we call.
static inline LIBSSH2_SESSION *ak_session_init(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }
static inline LIBSSH2_CHANNEL *ak_channel_open_session(LIBSSH2_SESSION *s) {
    return libssh2_channel_open_ex(s, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}
static inline int ak_channel_exec(LIBSSH2_CHANNEL *c, const char *cmd) {
    return libssh2_channel_process_startup(c, "exec", sizeof("exec") - 1, cmd, (unsigned int)strlen(cmd));
}
static inline ssize_t ak_channel_read(LIBSSH2_CHANNEL *c, int stream, char *buf, size_t len) {
    return libssh2_channel_read_ex(c, stream, buf, len);
}
static inline ssize_t ak_channel_write(LIBSSH2_CHANNEL *c, const char *buf, size_t len) {
    return libssh2_channel_write_ex(c, 0, buf, len);
}
static inline int ak_channel_send_eof(LIBSSH2_CHANNEL *c) { return libssh2_channel_send_eof(c); }
static inline int ak_session_disconnect(LIBSSH2_SESSION *s, const char *why) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, why, "");
}
static inline int ak_userauth_publickey_fromfile(LIBSSH2_SESSION *s, const char *user, const char *pub, const char *priv, const char *pass) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, (unsigned int)strlen(user), pub, priv, pass);
}
static inline int ak_knownhost_readfile(LIBSSH2_KNOWNHOSTS *h, const char *file) {
    return libssh2_knownhost_readfile(h, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}
#include <string.h>
#include <stdlib.h>

// Arithmetic macros (shifts) are invisible to Swift; these return them.
static inline int ak_knownhost_key_mask_for_hostkey_type(int t) {
    switch (t) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}
static inline int ak_knownhost_checkp(LIBSSH2_KNOWNHOSTS *h, const char *host, int port,
                                      const char *key, size_t keylen, int hostkeyType) {
    int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
               ak_knownhost_key_mask_for_hostkey_type(hostkeyType);
    return libssh2_knownhost_checkp(h, host, port, key, keylen, mask, NULL);
}
static inline int ak_knownhost_readline(LIBSSH2_KNOWNHOSTS *h, const char *line, size_t len) {
    return libssh2_knownhost_readline(h, line, len, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}
static inline int ak_method_pref_hostkey(LIBSSH2_SESSION *s, const char *prefs) {
    return libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, prefs);
}
static inline ssize_t ak_channel_read_stderr(LIBSSH2_CHANNEL *c, char *buf, size_t len) {
    return libssh2_channel_read_ex(c, SSH_EXTENDED_DATA_STDERR, buf, len);
}
static inline int ak_block_inbound(void) { return LIBSSH2_SESSION_BLOCK_INBOUND; }
static inline int ak_block_outbound(void) { return LIBSSH2_SESSION_BLOCK_OUTBOUND; }
// Copies the exit signal name into `out` and frees libssh2's copy; returns its length, 0 if none.
static inline int ak_channel_exit_signal(LIBSSH2_SESSION *s, LIBSSH2_CHANNEL *c, char *out, size_t outlen) {
    char *sig = NULL; size_t len = 0;
    if (outlen == 0) return -1;
    out[0] = 0;
    if (libssh2_channel_get_exit_signal(c, &sig, &len, NULL, NULL, NULL, NULL) != 0) return -1;
    if (!sig) return 0;
    size_t n = len < outlen - 1 ? len : outlen - 1;
    memcpy(out, sig, n); out[n] = 0;
    libssh2_free(s, sig);
    return (int)n;
}
static inline int ak_session_last_error(LIBSSH2_SESSION *s, char *out, size_t outlen) {
    char *msg = NULL; int len = 0;
    int rc = libssh2_session_last_error(s, &msg, &len, 0);
    if (outlen == 0) return rc;
    size_t n = msg ? ((size_t)len < outlen - 1 ? (size_t)len : outlen - 1) : 0;
    if (n) memcpy(out, msg, n);
    out[n] = 0;
    return rc;
}
static inline int ak_agent_userauth(LIBSSH2_AGENT *a, const char *user, struct libssh2_agent_publickey *id) {
    return libssh2_agent_userauth(a, user, id);
}
#endif
