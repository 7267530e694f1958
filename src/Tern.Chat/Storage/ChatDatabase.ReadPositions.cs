namespace Tern.Chat.Storage;

/// <summary>Read positions and unread counts, the same SQL for SQLite and PostgreSQL.</summary>
public abstract partial class ChatDatabase
{
    // Fragments over a members row aliased "me": the conversation's newest id, and what the member has not read
    // (messages after its position, by others, not deleted) and which of those mention it.
    private protected const string LastMessageIdSql = "(SELECT COALESCE(MAX(g.id), 0) FROM messages g WHERE g.conversation_id = me.conversation_id)";

    private protected const string UnreadSql = """
        CAST((SELECT COUNT(*) FROM messages g
            WHERE g.conversation_id = me.conversation_id AND g.id > me.last_read_id AND g.author_id <> me.account_id AND NOT g.deleted) AS integer)
        """;

    private protected const string MentionsSql = """
        CAST((SELECT COUNT(*) FROM mentions n JOIN messages g ON g.id = n.message_id
            WHERE n.account_id = me.account_id AND n.message_id > me.last_read_id
                AND g.conversation_id = me.conversation_id AND g.author_id <> me.account_id AND NOT g.deleted) AS integer)
        """;

    /// <inheritdoc cref="IConversationStore.MarkReadAsync"/>
    /// <remarks>
    /// The position never passes the conversation's newest message, so an id from the future (or from another
    /// conversation) cannot hide messages not yet written. For an account that is not a member the state is all zeros.
    /// </remarks>
    public ValueTask<ReadState> MarkReadAsync(long conversationId, long accountId, long messageId, CancellationToken cancellationToken = default) =>
        new(WriteAsync(async t =>
        {
            // The target is the smaller of the id and the newest message; the row changes only when that is a step forward.
            await t.ExecuteAsync("""
                UPDATE members AS me SET last_read_id = target.id
                FROM (SELECT CASE WHEN @id < newest.id THEN @id ELSE newest.id END AS id
                      FROM (SELECT COALESCE(MAX(g.id), 0) AS id FROM messages g WHERE g.conversation_id = @conversation) AS newest) AS target
                WHERE me.conversation_id = @conversation AND me.account_id = @account AND target.id > me.last_read_id;
                """, cancellationToken, ("@conversation", conversationId), ("@account", accountId), ("@id", messageId)).ConfigureAwait(false);
            return await ReadStateAsync(t, conversationId, accountId, cancellationToken).ConfigureAwait(false);
        }, cancellationToken));

    /// <inheritdoc cref="IConversationStore.GetReadStateAsync"/>
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
