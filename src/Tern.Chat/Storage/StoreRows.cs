using System.Data.Common;
using System.Globalization;

namespace Tern.Chat.Storage;

/// <summary>
/// How rows become records, the same for every store: each store's SQL returns these column lists with the same types
/// (ids and times as 64-bit integers, times in unix milliseconds, names as text, mentions as one comma-separated text),
/// so one mapping serves SQLite and PostgreSQL.
/// </summary>
internal static class StoreRows
{
    /// <summary>A time as stored: unix milliseconds (so what comes back is truncated to the millisecond).</summary>
    public static long ToStored(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    /// <summary>A stored time.</summary>
    public static DateTimeOffset FromStored(long milliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);

    /// <summary>Reads an account (id, username, username key, display name, password hash, created) starting at column <paramref name="first"/>.</summary>
    public static Account ReadAccount(DbDataReader reader, int first) => new(
        reader.GetInt64(first),
        reader.GetString(first + 1),
        reader.GetString(first + 2),
        reader.GetString(first + 3),
        reader.IsDBNull(first + 4) ? null : reader.GetString(first + 4),
        FromStored(reader.GetInt64(first + 5)));

    /// <summary>Reads a conversation (id, kind, name, account a, account b, created) starting at column <paramref name="first"/>.</summary>
    public static Conversation ReadConversation(DbDataReader reader, int first) => new(
        reader.GetInt64(first),
        reader.GetString(first + 1) == "room" ? ConversationKind.Room : ConversationKind.Direct,
        reader.IsDBNull(first + 2) ? null : reader.GetString(first + 2),
        reader.IsDBNull(first + 3) ? null : reader.GetInt64(first + 3),
        reader.IsDBNull(first + 4) ? null : reader.GetInt64(first + 4),
        FromStored(reader.GetInt64(first + 5)));

    /// <summary>Reads a room listing (id, name, member count as a 32-bit integer).</summary>
    public static RoomListing ReadRoomListing(DbDataReader reader) => new(reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2));

    /// <summary>
    /// Reads a message: id, conversation, author, author's username and display name, text, time, edited (or null),
    /// deleted (a boolean, or an integer that is 0 or 1), client tag (or null), mentioned ids (ascending, comma-separated, or null).
    /// </summary>
    public static StoredMessage ReadMessage(DbDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetInt64(1),
        reader.GetInt64(2),
        reader.GetString(3),
        reader.GetString(4),
        reader.GetString(5),
        FromStored(reader.GetInt64(6)),
        reader.IsDBNull(7) ? null : FromStored(reader.GetInt64(7)),
        reader.GetBoolean(8),
        reader.IsDBNull(9) ? null : reader.GetString(9),
        reader.IsDBNull(10) ? [] : Array.ConvertAll(reader.GetString(10).Split(','), id => long.Parse(id, CultureInfo.InvariantCulture)));
}
