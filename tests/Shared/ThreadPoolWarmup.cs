using System.Runtime.CompilerServices;

namespace Tern.TestSupport;

internal static class ThreadPoolWarmup
{
    /// <summary>
    /// The test host blocks some thread-pool threads of its own; on a 2-core machine that leaves the pool starved
    /// for hundreds of milliseconds until it injects threads, which stalls timers and sockets in timing-sensitive
    /// tests (keepalive, timeouts). Start with enough threads that the tests measure Tern, not the host.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(completionPorts, 32));
    }
}
