namespace Tern.Chat.Hub;

/// <summary>
/// The fan-out of a single process: publishing delivers straight to the subscribers, before returning, so the order of
/// events is the order of publishing (and a batch, committed while the hub holds the conversation's gate, is
/// delivered under it).
/// </summary>
public sealed class LocalChatFanout : IChatFanout
{
    private readonly object _lock = new();
    private Func<ChatEvent, CancellationToken, ValueTask>[] _subscribers = [];

    /// <inheritdoc/>
    /// <remarks>Always "local": one process has one node.</remarks>
    public string NodeId => "local";

    /// <inheritdoc/>
    public async ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        foreach (Func<ChatEvent, CancellationToken, ValueTask> deliver in Volatile.Read(ref _subscribers))
        {
            await deliver(chatEvent, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public IChatFanoutBatch Begin(long conversationId) => new Batch(this);

    /// <inheritdoc/>
    public IDisposable Subscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, deliver];
        }

        return new Subscription(this, deliver);
    }

    private void Unsubscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver)
    {
        lock (_lock)
        {
            _subscribers = Array.FindAll(_subscribers, s => s != deliver);
        }
    }

    private sealed class Subscription(LocalChatFanout fanout, Func<ChatEvent, CancellationToken, ValueTask> deliver) : IDisposable
    {
        public void Dispose() => fanout.Unsubscribe(deliver);
    }

    /// <summary>Holds the events until the commit, then publishes them in order (the store committed each change already).</summary>
    private sealed class Batch(LocalChatFanout fanout) : IChatFanoutBatch
    {
        private readonly List<ChatEvent> _events = [];

        public void Add(ChatEvent chatEvent)
        {
            ArgumentNullException.ThrowIfNull(chatEvent);
            _events.Add(chatEvent);
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
        {
            foreach (ChatEvent chatEvent in _events)
            {
                await fanout.PublishAsync(chatEvent, cancellationToken).ConfigureAwait(false);
            }

            _events.Clear();
        }

        public ValueTask DisposeAsync()
        {
            _events.Clear();
            return ValueTask.CompletedTask;
        }
    }
}
