using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tern.Chat.Storage;

/// <summary>
/// Accounts, sessions, conversations, messages and their search index in one SQLite database, in write-ahead-log mode:
/// readers never block the writer, and a call that returned survives the process being killed (synchronous=NORMAL; a
/// power cut can lose the last moments, never corrupt the file).
/// </summary>
/// <remarks>
/// <para><b>Connections.</b> Every change runs on one writer connection, one call at a time, each in its own
/// <c>BEGIN IMMEDIATE</c> transaction: SQLite serializes writers anyway, and taking turns in the process is cheaper
/// than SQLite's busy retries. Reads run on a small pool of read-only connections, each call in one snapshot, so they
/// neither wait for writes nor see half of one. The in-memory mode (<c>":memory:"</c>) has a single connection (a
/// private in-memory database lives and dies with it), which reads and writes take turns on.</para>
/// <para><b>Times</b> are stored as unix milliseconds, so what comes back is truncated to the millisecond.</para>
/// </remarks>
public sealed partial class SqliteChatDatabase : ChatDatabase, IChatStore
{
    /// <summary>The path that opens a private in-memory database, gone when the object is disposed.</summary>
    public const string InMemoryPath = ":memory:";

    /// <summary>Idle read connections kept open; more are opened under load and closed after.</summary>
    private const int MaxIdleReaders = 4;

    /// <summary>How long a statement waits for a lock held by another process before it fails.</summary>
    private const int BusyTimeoutMilliseconds = 5000;

    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeTurn = new(1, 1);
    private readonly string? _readerConnectionString;
    private readonly ConcurrentBag<SqliteConnection> _idleReaders = [];
    private volatile bool _disposed;

    private SqliteChatDatabase(string path, SqliteConnection writer, string? readerConnectionString, string historyId)
    {
        Path = path;
        _writer = writer;
        _readerConnectionString = readerConnectionString;
        HistoryId = historyId;
    }

    /// <summary>The database file's full path, or <see cref="InMemoryPath"/>.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    /// <remarks>Random when the database is created, kept in it, so it is the same after every reopen.</remarks>
    public string HistoryId { get; }

    /// <summary>
    /// Opens (creating if needed) the database at <paramref name="path"/>, or a private in-memory one for
    /// <see cref="InMemoryPath"/>, and migrates its schema to the current version.
    /// </summary>
    /// <exception cref="InvalidOperationException">The database was written by a newer version.</exception>
    public static async Task<SqliteChatDatabase> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        bool inMemory = path == InMemoryPath;
        string fullPath = inMemory ? InMemoryPath : System.IO.Path.GetFullPath(path);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = inMemory ? SqliteOpenMode.Memory : SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // The database owns its connections and closes them itself; a pool would keep the file open after.
            Pooling = false,
            ForeignKeys = true,
            DefaultTimeout = BusyTimeoutMilliseconds / 1000,
        };
        var writer = new SqliteConnection(builder.ToString());
        try
        {
            await writer.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecutePragmasAsync(writer, inMemory ? "" : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", cancellationToken).ConfigureAwait(false);
            string historyId;
            await using (SqliteTransaction transaction = writer.BeginTransaction())
            {
                historyId = await SqliteSchema.MigrateAsync(new StoreTransaction(writer, transaction), fullPath, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            builder.Mode = SqliteOpenMode.ReadOnly;
            return new SqliteChatDatabase(fullPath, writer, inMemory ? null : builder.ToString(), historyId);
        }
        catch
        {
            await writer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes every connection; the in-memory database is gone after.</summary>
    public async ValueTask DisposeAsync()
    {
        await _writeTurn.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            while (_idleReaders.TryTake(out SqliteConnection? reader))
            {
                await reader.DisposeAsync().ConfigureAwait(false);
            }

            // Lets SQLite refresh the statistics its query planner uses, as its documentation advises before closing.
            await using (SqliteCommand optimize = _writer.CreateCommand())
            {
                optimize.CommandText = "PRAGMA optimize;";
                await optimize.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            // The writer closes last: as the last connection it checkpoints the log into the file and removes it.
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeTurn.Release();
        }
    }

    /// <summary>Runs <paramref name="work"/> in a write transaction on the writer connection, committed when it returns.</summary>
    private protected override async Task<T> WriteAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await _writeTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await using SqliteTransaction transaction = _writer.BeginTransaction();
            T result = await work(new StoreTransaction(_writer, transaction)).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            _writeTurn.Release();
        }
    }

    /// <summary>Runs <paramref name="work"/> in one read snapshot, on a read connection (or the only one, in memory).</summary>
    private protected override async Task<T> ReadAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        if (_readerConnectionString is null)
        {
            return await WriteAsync(work, cancellationToken).ConfigureAwait(false);
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        SqliteConnection reader = await RentReaderAsync(_readerConnectionString, cancellationToken).ConfigureAwait(false);
        try
        {
            await using SqliteTransaction transaction = reader.BeginTransaction(deferred: true);
            return await work(new StoreTransaction(reader, transaction)).ConfigureAwait(false);
        }
        finally
        {
            ReturnReader(reader);
        }
    }

    private async Task<SqliteConnection> RentReaderAsync(string connectionString, CancellationToken cancellationToken)
    {
        if (_idleReaders.TryTake(out SqliteConnection? reader))
        {
            return reader;
        }

        reader = new SqliteConnection(connectionString);
        try
        {
            await reader.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecutePragmasAsync(reader, "", cancellationToken).ConfigureAwait(false);
            return reader;
        }
        catch
        {
            await reader.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void ReturnReader(SqliteConnection reader)
    {
        if (_disposed || _idleReaders.Count >= MaxIdleReaders)
        {
            reader.Dispose();
            return;
        }

        _idleReaders.Add(reader);

        // Disposal may have drained the bag between the check and the add; nobody else would close this one.
        if (_disposed && _idleReaders.TryTake(out SqliteConnection? late))
        {
            late.Dispose();
        }
    }

    private static async Task ExecutePragmasAsync(SqliteConnection connection, string extra, CancellationToken cancellationToken)
    {
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}; {extra}";
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A list of ids as one parameter, which SQL unpacks with <c>json_each</c>.</summary>
    private static string ToJsonArray(IEnumerable<long> ids) =>
        "[" + string.Join(',', ids.Select(id => id.ToString(CultureInfo.InvariantCulture))) + "]";
}
