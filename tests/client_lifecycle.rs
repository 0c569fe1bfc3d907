//! Dropping every handle on a client frees its engine, recovery sweep, worker and backend: after a thousand clients
//! were built, used and dropped, the runtime runs as many tasks as before and the live heap is what it was.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use mageflow::{Mageflow, TaskError, task};

/// The system allocator, counting the bytes in use.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[task]
async fn echo(n: u64) -> Result<u64, TaskError> {
    Ok(n)
}

/// A client with its defaults (memory store, local backend, recovery sweep), one task run through it, then dropped.
async fn build_use_and_drop(n: u64) {
    let client = Mageflow::builder().memory_store().task(echo).build().await.unwrap();
    assert_eq!(client.run(client.sign(echo), n).await.unwrap(), n);
}

/// Waits until the runtime runs at most `tasks` tasks.
async fn settle(tasks: usize) -> usize {
    let metrics = tokio::runtime::Handle::current().metrics();
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        while metrics.num_alive_tasks() > tasks {
            tokio::task::yield_now().await;
        }
    })
    .await;
    settled.map(|()| metrics.num_alive_tasks()).unwrap_or_else(|_| metrics.num_alive_tasks())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_dropped_clients_leave_no_task_and_no_memory_behind() {
    // what is built once per process (the script's hash, lazily made statics) is built by the first clients
    for n in 0..20 {
        build_use_and_drop(n).await;
    }
    let tasks_before = settle(0).await;
    let heap_before = LIVE_BYTES.load(Ordering::Relaxed);

    for n in 0..1000 {
        build_use_and_drop(n).await;
    }
    let tasks_after = settle(tasks_before).await;
    let heap_after = LIVE_BYTES.load(Ordering::Relaxed);
    assert_eq!(tasks_after, tasks_before, "every client's sweeper, dispatcher and runs ended");
    let grown = heap_after - heap_before;
    assert!(grown < 64 * 1024, "the live heap grew by {grown} bytes over a thousand dropped clients");
}
