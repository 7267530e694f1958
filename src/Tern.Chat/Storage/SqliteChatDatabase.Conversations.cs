using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Room creation (under the room limit) and room listings; the rest is <see cref="ChatDatabase"/>'s.</summary>
public sealed partial class SqliteChatDatabase
{
    /// <inheritdoc/>
    /// <remarks>
    /// The count and the insert run in one write transaction, so racing creators cannot pass the limit together. The
    /// creator is recorded but not made a member: joining is <see cref="AddMemberAsync"/>'s, which says whether it did.
    /// </remarks>
    public ValueTask<RoomCreation> GetOrCreateRoomAsync(string name, long creatorId, int maxRooms, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        return new(WriteAsync(async t =>
        {
            if (await FindRoomAsync(t, name, cancellationToken).ConfigureAwait(false) is Conversation existing)
            {
                return new RoomCreation(existing, Created: false, LimitReached: false);
            }

            if (await t.ScalarAsync<long>("SELECT COUNT(*) FROM conversations WHERE kind = 'room';", cancellationToken).ConfigureAwait(false) >= maxRooms)
            {
                return new RoomCreation(null, Created: false, LimitReached: true);
            }

            long id = await t.ScalarAsync<long>("""
                INSERT INTO conversations (kind, name, created_by, created) VALUES ('room', $name, $creator, $now) RETURNING id;
                """, cancellationToken, ("$name", name), ("$creator", creatorId), ("$now", ToStored(now))).ConfigureAwait(false);
            return new RoomCreation(new Conversation(id, ConversationKind.Room, name, null, null, FromStored(ToStored(now))), Created: true, LimitReached: false);
        }, cancellationToken));
    }

    /// <inheritdoc/>
    /// <remarks>Ids of direct conversations and unknown ids are left out; the listings come by name.</remarks>
    public ValueTask<IReadOnlyList<RoomListing>> GetRoomListingsAsync(IReadOnlyCollection<long> conversationIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(conversationIds);
        return new(ReadAsync<IReadOnlyList<RoomListing>>(async t => await t.QueryAsync("""
            SELECT c.id, c.name, (SELECT COUNT(*) FROM members m WHERE m.conversation_id = c.id)
            FROM conversations c
            WHERE c.kind = 'room' AND c.id IN (SELECT value FROM json_each($ids))
            ORDER BY c.name;
            """, ReadRoomListing, cancellationToken, ("$ids", ToJsonArray(conversationIds))).ConfigureAwait(false), cancellationToken));
    }
}
