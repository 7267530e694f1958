using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Rooms, direct conversations and their members: the same SQL for SQLite and PostgreSQL, except room creation and listings.</summary>
public abstract partial class ChatDatabase
{
    private protected const string ConversationColumns = "c.id, c.kind, c.name, c.account_a, c.account_b, c.created";

    /// <inheritdoc cref="IConversationStore.FindRoomAsync"/>
    public ValueTask<Conversation?> FindRoomAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        return new(ReadAsync(t => FindRoomAsync(t, name, cancellationToken), cancellationToken));
    }

    /// <inheritdoc cref="IConversationStore.GetBusiestRoomsAsync"/>
    public ValueTask<IReadOnlyList<RoomListing>> GetBusiestRoomsAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new(ReadAsync<IReadOnlyList<RoomListing>>(async t => await t.QueryAsync("""
            SELECT c.id, c.name, CAST((SELECT COUNT(*) FROM members m WHERE m.conversation_id = c.id) AS integer) AS member_count
            FROM conversations c
            WHERE c.kind = 'room'
            ORDER BY member_count DESC, c.name
            LIMIT @count;
            """, ReadRoomListing, cancellationToken, ("@count", count)).ConfigureAwait(false), cancellationToken));
    }

    /// <inheritdoc cref="IConversationStore.GetOrCreateDirectAsync"/>
    /// <exception cref="ArgumentException">Both ids are the same account.</exception>
    /// <remarks>
    /// The unique index on the pair decides: a racing creator's insert waits for ours and does nothing, and its next
    /// statement (READ COMMITTED) finds our conversation.
    /// </remarks>
    public ValueTask<Conversation> GetOrCreateDirectAsync(long accountA, long accountB, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (accountA == accountB)
        {
            throw new ArgumentException("A direct conversation needs two different accounts.", nameof(accountB));
        }

        (long a, long b) = accountA < accountB ? (accountA, accountB) : (accountB, accountA);
        return new(WriteAsync(async t =>
        {
            (string Name, object? Value)[] pair = [("@a", a), ("@b", b), ("@now", ToStored(now))];
            await t.ExecuteAsync("""
                INSERT INTO conversations (kind, account_a, account_b, created) VALUES ('direct', @a, @b, @now)
                    ON CONFLICT (account_a, account_b) WHERE kind = 'direct' DO NOTHING;
                """, cancellationToken, pair).ConfigureAwait(false);
            Conversation conversation = (await t.QuerySingleAsync($"""
                SELECT {ConversationColumns} FROM conversations c WHERE c.kind = 'direct' AND c.account_a = @a AND c.account_b = @b;
                """, r => ReadConversation(r, 0), cancellationToken, pair).ConfigureAwait(false))!;
            await t.ExecuteAsync("""
                INSERT INTO members (conversation_id, account_id, joined) VALUES (@id, @a, @now), (@id, @b, @now)
                    ON CONFLICT DO NOTHING;
                """, cancellationToken, [.. pair, ("@id", conversation.Id)]).ConfigureAwait(false);
            return conversation;
        }, cancellationToken));
    }

    /// <inheritdoc cref="IConversationStore.AddMemberAsync"/>
    public async ValueTask<bool> AddMemberAsync(long conversationId, long accountId, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        await WriteAsync(t => t.ExecuteAsync("""
            INSERT INTO members (conversation_id, account_id, joined, last_read_id)
                VALUES (@conversation, @account, @now, (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = @conversation))
                ON CONFLICT DO NOTHING;
            """, cancellationToken, ("@conversation", conversationId), ("@account", accountId), ("@now", ToStored(now))),
            cancellationToken).ConfigureAwait(false) == 1;

    /// <inheritdoc cref="IConversationStore.RemoveMemberAsync"/>
    public async ValueTask<bool> RemoveMemberAsync(long conversationId, long accountId, CancellationToken cancellationToken = default) =>
        await WriteAsync(t => t.ExecuteAsync("""
            DELETE FROM members
            WHERE conversation_id = @conversation AND account_id = @account
                AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = @conversation AND c.kind = 'room');
            """, cancellationToken, ("@conversation", conversationId), ("@account", accountId)),
            cancellationToken).ConfigureAwait(false) == 1;

    /// <inheritdoc cref="IConversationStore.IsMemberAsync"/>
    public ValueTask<bool> IsMemberAsync(long conversationId, long accountId, CancellationToken cancellationToken = default) =>
        new(ReadAsync(t => t.ScalarAsync<bool>("""
            SELECT EXISTS (SELECT 1 FROM members WHERE conversation_id = @conversation AND account_id = @account);
            """, cancellationToken, ("@conversation", conversationId), ("@account", accountId)), cancellationToken));

    /// <inheritdoc cref="IConversationStore.GetMembersAsync"/>
    public ValueTask<IReadOnlyList<MemberInfo>> GetMembersAsync(long conversationId, CancellationToken cancellationToken = default) =>
        new(ReadAsync<IReadOnlyList<MemberInfo>>(async t => await t.QueryAsync("""
            SELECT a.id, a.username, a.display_name
            FROM members m JOIN accounts a ON a.id = m.account_id
            WHERE m.conversation_id = @conversation
            ORDER BY a.username_key;
            """, r => new MemberInfo(r.GetInt64(0), r.GetString(1), r.GetString(2)), cancellationToken, ("@conversation", conversationId)).ConfigureAwait(false),
            cancellationToken));

    /// <inheritdoc cref="IConversationStore.CountRoomMembershipsAsync"/>
    public ValueTask<int> CountRoomMembershipsAsync(long accountId, CancellationToken cancellationToken = default) =>
        new(ReadAsync(t => t.ScalarAsync<int>("""
            SELECT COUNT(*) FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.account_id = @account AND c.kind = 'room';
            """, cancellationToken, ("@account", accountId)), cancellationToken));

    /// <inheritdoc cref="IConversationStore.GetConversationsAsync"/>
    public ValueTask<IReadOnlyList<ConversationState>> GetConversationsAsync(long accountId, CancellationToken cancellationToken = default) =>
        new(ReadAsync<IReadOnlyList<ConversationState>>(async t => await t.QueryAsync($"""
            SELECT {ConversationColumns},
                CAST((SELECT COUNT(*) FROM members x WHERE x.conversation_id = c.id) AS integer),
                {LastMessageIdSql},
                me.last_read_id, {UnreadSql}, {MentionsSql},
                o.id, o.username, o.display_name
            FROM members me
            JOIN conversations c ON c.id = me.conversation_id
            LEFT JOIN accounts o ON c.kind = 'direct'
                AND o.id = CASE WHEN c.account_a = me.account_id THEN c.account_b ELSE c.account_a END
            WHERE me.account_id = @account
            ORDER BY c.kind = 'direct', c.name, o.username_key;
            """, r => new ConversationState(
                ReadConversation(r, 0),
                r.IsDBNull(11) ? null : new MemberInfo(r.GetInt64(11), r.GetString(12), r.GetString(13)),
                r.GetInt32(6),
                r.GetInt64(7),
                new ReadState(r.GetInt64(8), r.GetInt32(9), r.GetInt32(10))),
            cancellationToken, ("@account", accountId)).ConfigureAwait(false), cancellationToken));

    /// <summary>The room with this name, inside <paramref name="t"/>, or null.</summary>
    private protected static Task<Conversation?> FindRoomAsync(StoreTransaction t, string name, CancellationToken cancellationToken) =>
        t.QuerySingleAsync($"SELECT {ConversationColumns} FROM conversations c WHERE c.kind = 'room' AND c.name = @name;",
            r => ReadConversation(r, 0), cancellationToken, ("@name", name));
}
