using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Messages: append (once per client tag, in one order per conversation), edit, delete, pages of history.</summary>
public sealed partial class PostgresChatDatabase
{
    /// <inheritdoc/>
    /// <remarks>
    /// The append first locks the conversation's row (FOR NO KEY UPDATE, which does not block inserts that merely
    /// reference it), so appends to one conversation, from any node, take their ids and commit one after the other: the
    /// conversation has one order, and "after id N" never misses a message that commits later with a smaller id. The
    /// unique index on (conversation, author, client tag) decides whether a message is a re-send, inside the insert.
    /// </remarks>
    public ValueTask<AppendResult> AppendAsync(NewMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(message.Text);
        ArgumentNullException.ThrowIfNull(message.MentionedAccountIds);
        return new(WriteAsync(async t =>
        {
            await t.ExecuteAsync("SELECT 1 FROM conversations WHERE id = @conversation FOR NO KEY UPDATE;", cancellationToken,
                ("@conversation", message.ConversationId)).ConfigureAwait(false);
            long? id = await t.QuerySingleAsync<long?>("""
                INSERT INTO messages (conversation_id, author_id, text, time, client_ref, words)
                    VALUES (@conversation, @author, @text, @time, CAST(@ref AS text), array_to_tsvector(@words))
                    ON CONFLICT (conversation_id, author_id, client_ref) WHERE client_ref IS NOT NULL DO NOTHING
                    RETURNING id;
                """, r => r.GetInt64(0), cancellationToken, ("@conversation", message.ConversationId), ("@author", message.AuthorId),
                ("@text", message.Text), ("@time", ToStored(message.Time)), ("@ref", message.ClientRef),
                ("@words", SearchWords.Index(message.Text))).ConfigureAwait(false);
            if (id is not long newId)
            {
                StoredMessage original = (await t.QuerySingleAsync($"""
                    SELECT {MessageColumns} FROM {MessageSource}
                    WHERE m.conversation_id = @conversation AND m.author_id = @author AND m.client_ref = @ref;
                    """, ReadMessage, cancellationToken, ("@conversation", message.ConversationId), ("@author", message.AuthorId),
                    ("@ref", message.ClientRef)).ConfigureAwait(false))!;
                return new AppendResult(original, Duplicate: true);
            }

            await InsertMentionsAsync(t, newId, message.MentionedAccountIds, cancellationToken).ConfigureAwait(false);
            return new AppendResult((await GetMessageAsync(t, newId, cancellationToken).ConfigureAwait(false))!, Duplicate: false);
        }, cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask<StoredMessage?> EditAsync(long messageId, long authorId, string text, IReadOnlyList<long> mentionedAccountIds, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(mentionedAccountIds);
        return new(WriteAsync(async t =>
        {
            int changed = await t.ExecuteAsync("""
                UPDATE messages SET text = @text, words = array_to_tsvector(@words), edited = @now
                WHERE id = @id AND author_id = @author AND NOT deleted;
                """, cancellationToken, ("@id", messageId), ("@author", authorId), ("@text", text), ("@words", SearchWords.Index(text)),
                ("@now", ToStored(now))).ConfigureAwait(false);
            if (changed == 0)
            {
                return null;
            }

            await t.ExecuteAsync("DELETE FROM mentions WHERE message_id = @id;", cancellationToken, ("@id", messageId)).ConfigureAwait(false);
            await InsertMentionsAsync(t, messageId, mentionedAccountIds, cancellationToken).ConfigureAwait(false);
            return await GetMessageAsync(t, messageId, cancellationToken).ConfigureAwait(false);
        }, cancellationToken));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The tombstone keeps its id, conversation, author, time and client tag (so a late re-send is still recognized);
    /// its edit time becomes the time of the deletion. Its words go with its text.
    /// </remarks>
    public ValueTask<StoredMessage?> DeleteAsync(long messageId, long authorId, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        new(WriteAsync(async t =>
        {
            int changed = await t.ExecuteAsync("""
                UPDATE messages SET text = '', words = '', deleted = true, edited = @now WHERE id = @id AND author_id = @author AND NOT deleted;
                """, cancellationToken, ("@id", messageId), ("@author", authorId), ("@now", ToStored(now))).ConfigureAwait(false);
            if (changed == 0)
            {
                return null;
            }

            await t.ExecuteAsync("DELETE FROM mentions WHERE message_id = @id;", cancellationToken, ("@id", messageId)).ConfigureAwait(false);
            return await GetMessageAsync(t, messageId, cancellationToken).ConfigureAwait(false);
        }, cancellationToken));

    private static async Task InsertMentionsAsync(StoreTransaction t, long messageId, IReadOnlyList<long> accountIds, CancellationToken cancellationToken)
    {
        if (accountIds.Count > 0)
        {
            await t.ExecuteAsync("""
                INSERT INTO mentions (message_id, account_id) SELECT @id, account FROM unnest(@accounts) AS account ON CONFLICT DO NOTHING;
                """, cancellationToken, ("@id", messageId), ("@accounts", accountIds.ToArray())).ConfigureAwait(false);
        }
    }
}
