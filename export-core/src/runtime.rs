//! The one tokio runtime that drives an engine's I/O (object storage, PostgreSQL), and the way
//! blocking code waits on it.
//!
//! The engine's pipeline is CPU-bound and synchronous; its I/O edges are async. An [`IoRuntime`]
//! joins the two: [`IoRuntime::block_on`] waits for an I/O future from any thread without
//! panicking, and [`IoRuntime::spawn_blocking`] moves synchronous work off an async host's
//! threads. There is one runtime per engine (or the host's own, given as a
//! [`tokio::runtime::Handle`]); stores and storages never start their own.
//!
//! Where `block_on` is called from decides how it waits:
//!
//! | caller | how it waits |
//! |---|---|
//! | a plain thread, or a blocking-pool thread | [`Handle::block_on`] |
//! | a multi-thread runtime's worker | [`tokio::task::block_in_place`], then `Handle::block_on` |
//! | a current-thread runtime's thread | a scoped thread, because that runtime can neither block in place nor enter another runtime |
//!
//! The last case blocks the host's only thread, so async hosts should call the engine's async
//! API, which runs the work through [`IoRuntime::spawn_blocking`] and never gets there.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::{ExportError, Result};

/// A handle on the tokio runtime that drives I/O, cheap to clone.
///
/// Either owned (built by [`IoRuntime::new`], shut down when the last clone is dropped) or the
/// host's (wrapped by [`IoRuntime::from_handle`]).
///
/// # Examples
///
/// Waiting on async I/O from plain synchronous code:
///
/// ```
/// use export_core::runtime::IoRuntime;
/// let io = IoRuntime::new(1).unwrap();
/// assert_eq!(io.block_on(async { 40 + 2 }), 42);
/// ```
///
/// From inside an async host, synchronous work goes through `spawn_blocking`:
///
/// ```
/// use export_core::runtime::IoRuntime;
/// let host = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let io = IoRuntime::new(1).unwrap();
/// let n = host.block_on(async {
///     let io2 = io.clone();
///     io.spawn_blocking(move || io2.block_on(async { 7 })).await
/// });
/// assert_eq!(n.unwrap(), 7);
/// ```
#[derive(Clone)]
pub struct IoRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    // Kept so that the runtime lives as long as the last clone; `None` for a host's handle.
    owned: Option<Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime from inside another runtime's context panics; a background
        // shutdown never does, and in-flight I/O belongs to nobody once the engine is gone.
        if let Some(runtime) = self.owned.take() {
            runtime.shutdown_background();
        }
    }
}

thread_local! {
    // Set on threads running `IoRuntime::spawn_blocking` work: `block_on` may block them.
    static ON_BLOCKING_THREAD: Cell<bool> = const { Cell::new(false) };
}

impl IoRuntime {
    /// Starts an owned multi-thread runtime with `worker_threads` I/O threads (at least one),
    /// named `export-core-io`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] if the operating system refuses the threads.
    pub fn new(worker_threads: usize) -> Result<IoRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name("export-core-io")
            .enable_all()
            .build()
            .map_err(|e| {
                ExportError::config("runtime", format!("cannot start the I/O runtime: {e}"))
            })?;
        Ok(IoRuntime {
            inner: Arc::new(Inner {
                handle: runtime.handle().clone(),
                owned: Some(runtime),
            }),
        })
    }

    /// Uses the host's runtime. It must be a multi-thread runtime with I/O and time enabled:
    /// blocking threads wait on its I/O, which a current-thread runtime only drives while its
    /// own thread is free.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] on field `runtime` for a current-thread runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::runtime::IoRuntime;
    /// let host = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let err = IoRuntime::from_handle(host.handle().clone()).err().unwrap();
    /// assert_eq!(err.code(), "CONFIG");
    /// ```
    pub fn from_handle(handle: Handle) -> Result<IoRuntime> {
        if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
            return Err(ExportError::config(
                "runtime",
                "the engine needs a multi-thread tokio runtime (a current-thread runtime cannot \
                 drive I/O while its thread waits); pass a multi-thread handle or let the \
                 engine start its own",
            ));
        }
        Ok(IoRuntime {
            inner: Arc::new(Inner {
                handle,
                owned: None,
            }),
        })
    }

    /// The process-wide runtime used by stores and storages opened without an engine (two I/O
    /// threads, started on first use). An engine uses its own instead.
    ///
    /// # Panics
    ///
    /// If the operating system refuses the runtime's threads on first use.
    pub fn shared() -> IoRuntime {
        static SHARED: OnceLock<IoRuntime> = OnceLock::new();
        SHARED
            .get_or_init(|| IoRuntime::new(2).expect("cannot start the shared I/O runtime"))
            .clone()
    }

    /// The runtime's handle, to spawn I/O tasks on it.
    pub fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// Runs `future` on this runtime and waits for it, from any thread (see the module docs for
    /// how it waits).
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let handle = &self.inner.handle;
        if ON_BLOCKING_THREAD.with(Cell::get) {
            return handle.block_on(future);
        }
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Err(_) => handle.block_on(future),
            Ok(RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| handle.block_on(future))
            }
            // A current-thread runtime's own thread (or its blocking pool, which we cannot tell
            // apart): wait from a thread that is in no runtime.
            Ok(_) => std::thread::scope(|scope| {
                scope
                    .spawn(|| handle.block_on(future))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        }
    }

    /// Runs the synchronous `work` on this runtime's blocking pool and returns its result to an
    /// async caller of any runtime; inside it, [`IoRuntime::block_on`] blocks directly.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] on field `runtime` if the runtime is shutting down. A panic in
    /// `work` is resumed in the caller.
    pub async fn spawn_blocking<T, W>(&self, work: W) -> Result<T>
    where
        W: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = self.inner.handle.spawn_blocking(move || {
            // Reset even if `work` panics: the pool reuses its threads.
            struct Reset;
            impl Drop for Reset {
                fn drop(&mut self) {
                    ON_BLOCKING_THREAD.with(|flag| flag.set(false));
                }
            }
            ON_BLOCKING_THREAD.with(|flag| flag.set(true));
            let _reset = Reset;
            work()
        });
        match task.await {
            Ok(out) => Ok(out),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ExportError::config(
                "runtime",
                format!("the I/O runtime stopped before the work ran: {e}"),
            )),
        }
    }

    /// Whether this handle owns its runtime (as opposed to using the host's).
    pub fn is_owned(&self) -> bool {
        self.inner.owned.is_some()
    }
}

impl fmt::Debug for IoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoRuntime")
            .field("owned", &self.is_owned())
            .finish()
    }
}
