namespace Tern.Chat.Storage;

/// <summary>Read positions and unread counts.</summary>
public sealed partial class PostgresChatDatabase
{
    // Fragments over a members row aliased "me": the conversation's newest id, and what the member has not read
    // (messages after its position, by others, not deleted) and which of those mention it.
    private const string LastMessageIdSql = "(SELECT COALESCE(MAX(g.id), 0) FROM messages g WHERE g.conversation_id = me.conversation_id)";

    private const string UnreadSql = """
        (SELECT COUNT(*) FROM messages g
            WHERE g.conversation_id = me.conversation_id AND g.id > me.last_read_id AND g.author_id <> me.account_id AND NOT g.deleted)::integer
        """;

    private const string MentionsSql = """
        (SELECT COUNT(*) FROM mentions n JOIN messages g ON g.id = n.message_id
            WHERE n.account_id = me.account_id AND n.message_id > me.last_read_id
                AND g.conversation_id = me.conversation_id AND g.author_id <> me.account_id AND NOT g.deleted)::integer
        """;

    /// <inheritdoc/>
    /// <remarks>
    /// The position never passes the conversation's newest message, so an id from the future (or from another
    /// conversation) cannot hide messages not yet written. For an account that is not a member the state is all zeros.
    /// </remarks>
    public ValueTask<ReadState> MarkReadAsync(long conversationId, long accountId, long messageId, CancellationToken cancellationToken = default) =>
        new(WriteAsync(async t =>
        {
            await t.ExecuteAsync($"""
                UPDATE members AS me SET last_read_id = GREATEST(me.last_read_id, LEAST(@id, {LastMessageIdSql}))
                WHERE me.conversation_id = @conversation AND me.account_id = @account;
                """, cancellationToken, ("@conversation", conversationId), ("@account", accountId), ("@id", messageId)).ConfigureAwait(false);
            return await ReadStateAsync(t, conversationId, accountId, cancellationToken).ConfigureAwait(false);
        }, cancellationToken));

    /// <inheritdoc/>
    /// <remarks>For an account that is not a member the state is all zeros.</remarks>
    public ValueTask<ReadState> GetReadStateAsync(long conversationId, long accountId, CancellationToken cancellationToken = default) =>
        new(ReadAsync(t => ReadStateAsync(t, conversationId, accountId, cancellationToken), cancellationToken));

    private static async Task<ReadState> ReadStateAsync(StoreTransaction t, long conversationId, long accountId, CancellationToken cancellationToken) =>
        await t.QuerySingleAsync($"""
            SELECT me.last_read_id, {UnreadSql}, {MentionsSql}
            FROM members me WHERE me.conversation_id = @conversation AND me.account_id = @account;
            """, r => new ReadState(r.GetInt64(0), r.GetInt32(1), r.GetInt32(2)), cancellationToken,
            ("@conversation", conversationId), ("@account", accountId)).ConfigureAwait(false) ?? new ReadState(0, 0, 0);
}
