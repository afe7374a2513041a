//! kqueue backend (FreeBSD, macOS): being written.
