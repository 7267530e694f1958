using System.Collections.Concurrent;

namespace Tern.Transport;

/// <summary>
/// A scheduler that starts many connections' senders from one thread-pool work item at a time: waking an idle sender
/// costs an enqueue, not a work-item allocation and a thread hop of its own, and under load one pass serves many
/// connections.
/// </summary>
internal sealed class IOQueue : IThreadPoolWorkItem
{
    private static readonly IOQueue[] Queues = Enumerable.Range(0, Math.Max(1, Environment.ProcessorCount)).Select(_ => new IOQueue()).ToArray();
    private static int s_next;

    private readonly ConcurrentQueue<Work> _work = new();
    private int _scheduled;

    /// <summary>One of a few shared queues, spread round-robin over connections.</summary>
    public static IOQueue Next() => Queues[(int)((uint)Interlocked.Increment(ref s_next) % (uint)Queues.Length)];

    public void Schedule(Action<object?> action, object? state)
    {
        _work.Enqueue(new Work(action, state));
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            while (_work.TryDequeue(out Work item))
            {
                item.Action(item.State);
            }

            Volatile.Write(ref _scheduled, 0);
            // Work enqueued after the last dequeue but before the reset found _scheduled still set: take it now.
            if (_work.IsEmpty || Interlocked.Exchange(ref _scheduled, 1) != 0)
            {
                return;
            }
        }
    }

    private readonly record struct Work(Action<object?> Action, object? State);
}
