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
#endif
