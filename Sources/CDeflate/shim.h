#ifndef AKBACKUP_CDEFLATE_SHIM_H
#define AKBACKUP_CDEFLATE_SHIM_H
// libdeflate: whole-buffer DEFLATE, about twice as fast as zlib at the same level, same gzip format.
#include <libdeflate.h>
#endif
