using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Room creation (under the room limit, across nodes) and room listings; the rest is <see cref="ChatDatabase"/>'s.</summary>
public sealed partial class PostgresChatDatabase
{
    /// <summary>The advisory lock key that room creations take turns on ("ternroom" in ASCII), so the room limit holds across nodes.</summary>
    private const long RoomCreationLockKey = 0x7465726E726F6F6D;

    /// <inheritdoc/>
    /// <remarks>
    /// An existing room is found without any lock. Creating one takes a transaction-scoped advisory lock first, so
    /// racing creators (on any nodes) take turns: the count and the insert of one see the room of the one before, and
    /// the limit cannot be passed together. The creator is recorded but not made a member (see <see cref="AddMemberAsync"/>).
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

            await t.ExecuteAsync("SELECT pg_advisory_xact_lock(@key);", cancellationToken, ("@key", RoomCreationLockKey)).ConfigureAwait(false);
            // READ COMMITTED: each statement from here on sees what the creators before us committed.
            if (await FindRoomAsync(t, name, cancellationToken).ConfigureAwait(false) is Conversation created)
            {
                return new RoomCreation(created, Created: false, LimitReached: false);
            }

            if (await t.ScalarAsync<long>("SELECT COUNT(*) FROM conversations WHERE kind = 'room';", cancellationToken).ConfigureAwait(false) >= maxRooms)
            {
                return new RoomCreation(null, Created: false, LimitReached: true);
            }

            long id = await t.ScalarAsync<long>("""
                INSERT INTO conversations (kind, name, created_by, created) VALUES ('room', @name, @creator, @now) RETURNING id;
                """, cancellationToken, ("@name", name), ("@creator", creatorId), ("@now", ToStored(now))).ConfigureAwait(false);
            return new RoomCreation(new Conversation(id, ConversationKind.Room, name, null, null, FromStored(ToStored(now))), Created: true, LimitReached: false);
        }, cancellationToken));
    }

    /// <inheritdoc/>
    /// <remarks>Ids of direct conversations and unknown ids are left out; the listings come by name.</remarks>
    public ValueTask<IReadOnlyList<RoomListing>> GetRoomListingsAsync(IReadOnlyCollection<long> conversationIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(conversationIds);
        return new(ReadAsync<IReadOnlyList<RoomListing>>(async t => await t.QueryAsync("""
            SELECT c.id, c.name, (SELECT COUNT(*) FROM members m WHERE m.conversation_id = c.id)::integer
            FROM conversations c
            WHERE c.kind = 'room' AND c.id = ANY (@ids)
            ORDER BY c.name;
            """, ReadRoomListing, cancellationToken, ("@ids", conversationIds.ToArray())).ConfigureAwait(false), cancellationToken));
    }
}
