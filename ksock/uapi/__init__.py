# Linux user-space API numbers (include/uapi/...): errno, socket, in, fcntl.
