// The nickname-era store, kept verbatim (namespace aside) to write version-1 databases for the migration tests.
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tern.Chat.Tests.Storage.NicknameEra;

/// <summary>
/// History in a SQLite file, in write-ahead-log mode: appends are cheap, readers never block the writer, and a
/// message whose append returned survives the process being killed (synchronous=NORMAL; a power cut can lose the
/// last moments, never corrupt the file).
/// </summary>
/// <remarks>
/// One connection serves the process; calls take turns on it. Ids come from an AUTOINCREMENT key, so they are never
/// reused, even after rows are deleted by hand.
/// </remarks>
public sealed class SqliteChatStore : IChatStore
{
    private const int SchemaVersion = 1;

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly SqliteCommand _append;
    private readonly SqliteCommand _recent;
    private readonly SqliteCommand _after;
    private bool _disposed;

    private SqliteChatStore(SqliteConnection connection, string historyId)
    {
        _connection = connection;
        HistoryId = historyId;
        _append = Prepare("INSERT INTO messages (room, nick, text, time, client_ref) VALUES ($room, $nick, $text, $time, $ref) RETURNING id;",
            "$room", "$nick", "$text", "$time", "$ref");
        _recent = Prepare("SELECT id, room, nick, text, time, client_ref FROM (SELECT * FROM messages WHERE room = $room ORDER BY id DESC LIMIT $count) ORDER BY id;",
            "$room", "$count");
        _after = Prepare("SELECT id, room, nick, text, time, client_ref FROM messages WHERE room = $room AND id > $after ORDER BY id LIMIT $limit;",
            "$room", "$after", "$limit");
    }

    /// <summary>The database file.</summary>
    public string Path => _connection.DataSource;

    /// <inheritdoc/>
    public string HistoryId { get; }

    /// <summary>Opens (creating if needed) the database at <paramref name="path"/>.</summary>
    public static async Task<SqliteChatStore> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SQLitePCL.Batteries.Init();
        string fullPath = System.IO.Path.GetFullPath(path);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = NORMAL;
                PRAGMA busy_timeout = 5000;
                CREATE TABLE IF NOT EXISTS messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    room TEXT NOT NULL,
                    nick TEXT NOT NULL,
                    text TEXT NOT NULL,
                    time INTEGER NOT NULL,
                    client_ref TEXT
                );
                CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room, id);
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """, cancellationToken).ConfigureAwait(false);
            int version = Convert.ToInt32(await ScalarAsync(connection, "PRAGMA user_version;", cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (version > SchemaVersion)
            {
                throw new InvalidOperationException($"{fullPath} was written by a newer Tern.Chat (schema {version}; this one knows {SchemaVersion}).");
            }

            await ExecuteAsync(connection, $"PRAGMA user_version = {SchemaVersion}; INSERT OR IGNORE INTO meta (key, value) VALUES ('history_id', '{Guid.NewGuid():N}');", cancellationToken).ConfigureAwait(false);
            string historyId = (string)(await ScalarAsync(connection, "SELECT value FROM meta WHERE key = 'history_id';", cancellationToken).ConfigureAwait(false))!;
            return new SqliteChatStore(connection, historyId);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<ChatMessage> AppendAsync(NewChatMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _append.Parameters["$room"].Value = message.Room;
            _append.Parameters["$nick"].Value = message.Nick;
            _append.Parameters["$text"].Value = message.Text;
            _append.Parameters["$time"].Value = message.Time.ToUnixTimeMilliseconds();
            _append.Parameters["$ref"].Value = (object?)message.ClientRef ?? DBNull.Value;
            long id = (long)(await _append.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            return new ChatMessage(id, message.Room, message.Nick, message.Text, Truncate(message.Time), message.ClientRef);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<ChatMessage>> GetRecentAsync(string room, int count, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(room);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _recent.Parameters["$room"].Value = room;
            _recent.Parameters["$count"].Value = count;
            return await ReadMessagesAsync(_recent, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<ChatMessage>> GetAfterAsync(string room, long afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(room);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _after.Parameters["$room"].Value = room;
            _after.Parameters["$after"].Value = afterId;
            _after.Parameters["$limit"].Value = limit;
            return await ReadMessagesAsync(_after, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _append.Dispose();
            _recent.Dispose();
            _after.Dispose();
            await _connection.DisposeAsync().ConfigureAwait(false);

            // Without this the file stays locked on Windows and tests cannot delete it.
            SqliteConnection.ClearAllPools();
        }
        finally
        {
            _turn.Release();
        }
    }

    private static async Task<IReadOnlyList<ChatMessage>> ReadMessagesAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var messages = new List<ChatMessage>();
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            messages.Add(new ChatMessage(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                reader.IsDBNull(5) ? null : reader.GetString(5)));
        }

        return messages;
    }

    /// <summary>Stored times have millisecond precision; hand back what a later read will return.</summary>
    private static DateTimeOffset Truncate(DateTimeOffset time) => DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());

    private SqliteCommand Prepare(string sql, params string[] parameterNames)
    {
        SqliteCommand command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (string name in parameterNames)
        {
            command.Parameters.Add(new SqliteParameter(name, null));
        }

        return command;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }
}
