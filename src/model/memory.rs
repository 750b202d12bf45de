//! How the process gets memory for tensors. Every pass allocates and frees tensors of tens of
//! megabytes; glibc's allocator serves those with `mmap` and gives them back on free, so each
//! comes back as fresh pages the kernel zeroes first, which cost a third of a pass. Kept in
//! the heap instead, freed tensors are reused.

/// Keeps freed memory for the next allocation (glibc; elsewhere the allocator is left as it is).
pub fn reuse_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any tensor exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
