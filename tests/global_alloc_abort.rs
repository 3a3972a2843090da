//! A backend's debug panic inside `GlobalAlloc` must not unwind out of the allocator
//! (that is undefined behaviour): `Linked<B>` turns it into an abort.
#![cfg(not(miri))] // runs a child process

use core::alloc::{GlobalAlloc, Layout};
use std::process::Command;

use linked_alloc::Linked;
use linked_alloc_system::SystemHeap;

const CHILD: &str = "LINKED_ALLOC_ABORT_TEST_CHILD";
const NAME: &str = "bad_dealloc_through_global_alloc_aborts_instead_of_unwinding";

#[test]
fn bad_dealloc_through_global_alloc_aborts_instead_of_unwinding() {
    if std::env::var_os(CHILD).is_some() {
        let heap = Linked::new(SystemHeap::new());
        let layout = Layout::new::<[u8; 32]>();
        let root = heap.allocate_root(layout).unwrap();
        // SAFETY: `root` is a live root of `heap`.
        let child = unsafe { heap.allocate_child(root, layout) }.unwrap();
        // A child given to `dealloc` (the caller's error, caught by SystemHeap's tag in
        // a debug build). A catch_unwind here must not see a panic: the process aborts.
        let unwound = std::panic::catch_unwind(|| {
            // SAFETY: deliberately wrong, to check the abort: `child` is live memory
            // with a readable header, so the backend's check reads nothing out of bounds.
            unsafe { heap.dealloc(child.as_ptr(), layout) };
        });
        println!("returned normally, unwound: {}", unwound.is_err());
        std::process::exit(0);
    }
    if !cfg!(debug_assertions) {
        // Release builds ignore the bad pointer instead of panicking: nothing to abort.
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the child process did not abort: {stdout}"
    );
    assert!(
        !stdout.contains("returned normally"),
        "the panic unwound or returned: {stdout}"
    );
    assert!(
        stderr.contains("was given a pointer that is not a live root"),
        "{stderr}"
    );
    assert!(stderr.contains("must not unwind"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "expected SIGABRT: {:?}",
            out.status
        );
    }
}
