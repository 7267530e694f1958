namespace Tern.Chat.Storage;

/// <summary>Keeps history in memory only (<c>--db :memory:</c>): for trying the chat out, and for tests.</summary>
public sealed class InMemoryChatStore : IChatStore
{
    private readonly object _lock = new();
    private readonly Dictionary<string, List<ChatMessage>> _rooms = new(StringComparer.Ordinal);
    private long _lastId;

    /// <inheritdoc/>
    public string HistoryId { get; } = Guid.NewGuid().ToString("N");

    /// <inheritdoc/>
    public ValueTask<ChatMessage> AppendAsync(NewChatMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_lock)
        {
            var stored = new ChatMessage(++_lastId, message.Room, message.Nick, message.Text, message.Time, message.ClientRef);
            if (!_rooms.TryGetValue(message.Room, out List<ChatMessage>? messages))
            {
                _rooms[message.Room] = messages = [];
            }

            messages.Add(stored);
            return ValueTask.FromResult(stored);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<ChatMessage>> GetRecentAsync(string room, int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_lock)
        {
            if (!_rooms.TryGetValue(room, out List<ChatMessage>? messages))
            {
                return ValueTask.FromResult<IReadOnlyList<ChatMessage>>([]);
            }

            int start = Math.Max(0, messages.Count - count);
            return ValueTask.FromResult<IReadOnlyList<ChatMessage>>(messages.GetRange(start, messages.Count - start));
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<ChatMessage>> GetAfterAsync(string room, long afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        lock (_lock)
        {
            if (!_rooms.TryGetValue(room, out List<ChatMessage>? messages))
            {
                return ValueTask.FromResult<IReadOnlyList<ChatMessage>>([]);
            }

            // Ids grow along the list, so the first one after afterId is found by binary search.
            int low = 0, high = messages.Count;
            while (low < high)
            {
                int middle = (low + high) / 2;
                if (messages[middle].Id <= afterId)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle;
                }
            }

            return ValueTask.FromResult<IReadOnlyList<ChatMessage>>(messages.GetRange(low, Math.Min(limit, messages.Count - low)));
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
