using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Reading messages, the same SQL for SQLite and PostgreSQL; each store appends, edits and deletes its own way.</summary>
public abstract partial class ChatDatabase
{
    // A message with its author's current names and its mentions (ascending ids, as one comma-separated column): the
    // columns StoreRows.ReadMessage reads. string_agg with ORDER BY is PostgreSQL's, and SQLite's since 3.44.
    private protected const string MessageColumns = """
        m.id, m.conversation_id, m.author_id, a.username, a.display_name, m.text, m.time, m.edited, m.deleted, m.client_ref,
        (SELECT string_agg(CAST(n.account_id AS text), ',' ORDER BY n.account_id) FROM mentions n WHERE n.message_id = m.id)
        """;

    private protected const string MessageSource = "messages m JOIN accounts a ON a.id = m.author_id";

    /// <inheritdoc cref="IConversationStore.GetMessageAsync"/>
    public ValueTask<StoredMessage?> GetMessageAsync(long messageId, CancellationToken cancellationToken = default) =>
        new(ReadAsync(t => GetMessageAsync(t, messageId, cancellationToken), cancellationToken));

    /// <inheritdoc cref="IConversationStore.GetBeforeAsync"/>
    public ValueTask<IReadOnlyList<StoredMessage>> GetBeforeAsync(long conversationId, long? beforeId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return new(ReadAsync<IReadOnlyList<StoredMessage>>(async t =>
        {
            List<StoredMessage> newestFirst = await t.QueryAsync($"""
                SELECT {MessageColumns} FROM {MessageSource}
                WHERE m.conversation_id = @conversation AND m.id < @before
                ORDER BY m.id DESC LIMIT @limit;
                """, ReadMessage, cancellationToken, ("@conversation", conversationId), ("@before", beforeId ?? long.MaxValue), ("@limit", limit)).ConfigureAwait(false);
            newestFirst.Reverse();
            return newestFirst;
        }, cancellationToken));
    }

    /// <inheritdoc cref="IConversationStore.GetAfterAsync"/>
    public ValueTask<IReadOnlyList<StoredMessage>> GetAfterAsync(long conversationId, long afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return new(ReadAsync<IReadOnlyList<StoredMessage>>(async t => await t.QueryAsync($"""
            SELECT {MessageColumns} FROM {MessageSource}
            WHERE m.conversation_id = @conversation AND m.id > @after
            ORDER BY m.id LIMIT @limit;
            """, ReadMessage, cancellationToken, ("@conversation", conversationId), ("@after", afterId), ("@limit", limit)).ConfigureAwait(false), cancellationToken));
    }

    /// <summary>A message by id, inside <paramref name="t"/>, or null.</summary>
    private protected static Task<StoredMessage?> GetMessageAsync(StoreTransaction t, long messageId, CancellationToken cancellationToken) =>
        t.QuerySingleAsync($"SELECT {MessageColumns} FROM {MessageSource} WHERE m.id = @id;", ReadMessage, cancellationToken, ("@id", messageId));
}
