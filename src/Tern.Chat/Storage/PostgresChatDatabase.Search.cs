using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Full-text search over the messages' words.</summary>
public sealed partial class PostgresChatDatabase
{
    /// <inheritdoc/>
    /// <remarks>
    /// PostgreSQL full-text search: each message keeps its words as a <c>tsvector</c> under a GIN index, and the query
    /// becomes a <c>tsquery</c> of quoted words joined by <c>&amp;</c>, the last with <c>:*</c> (a prefix). Words are cut
    /// and folded by <see cref="SearchWords"/> on both sides, as SQLite's tokenizer does, so both stores find the same
    /// messages; nothing a person types is read as search syntax. A query with no word finds nothing.
    /// </remarks>
    public ValueTask<IReadOnlyList<StoredMessage>> SearchAsync(long accountId, string query, long? conversationId, long? beforeId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        string? match = SearchWords.Query(query);
        if (match is null || limit == 0)
        {
            return new([]);
        }

        return new(ReadAsync<IReadOnlyList<StoredMessage>>(async t => await t.QueryAsync($"""
            SELECT {MessageColumns}
            FROM messages m
            JOIN accounts a ON a.id = m.author_id
            JOIN members me ON me.conversation_id = m.conversation_id AND me.account_id = @account
            WHERE m.words @@ CAST(@match AS tsquery)
                AND m.id < @before
                AND NOT m.deleted
                AND (CAST(@conversation AS bigint) IS NULL OR m.conversation_id = CAST(@conversation AS bigint))
            ORDER BY m.id DESC
            LIMIT @limit;
            """, ReadMessage, cancellationToken, ("@account", accountId), ("@match", match), ("@before", beforeId ?? long.MaxValue),
            ("@conversation", conversationId), ("@limit", limit)).ConfigureAwait(false), cancellationToken));
    }
}
