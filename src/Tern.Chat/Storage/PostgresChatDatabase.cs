using Npgsql;

namespace Tern.Chat.Storage;

/// <summary>
/// Accounts, sessions, conversations, messages and their search index in a PostgreSQL database, shared by every
/// Tern.Chat node that points at it. Connections come from one Npgsql pool per store.
/// </summary>
/// <remarks>
/// <para><b>Transactions.</b> Every change runs in its own READ COMMITTED transaction; where two nodes could race
/// (appending to one conversation, creating a room under the room limit) the transaction first takes a lock that
/// makes them take turns, and uniqueness (names, direct pairs, re-sent messages) is decided by unique indexes inside
/// the insert. Reads are single statements, each of which sees one snapshot.</para>
/// <para><b>Order.</b> Message ids come from one identity sequence. An append first locks its conversation's row, so
/// in one conversation ids are taken and committed in the same order: a reader that saw id N in a conversation never
/// later finds a smaller id appear there. Across conversations ids still only grow, but may become visible out of order.
/// A re-send recognized as a duplicate still uses up a sequence value, so ids have gaps.</para>
/// <para><b>Times</b> are stored as unix milliseconds (bigint), like the SQLite store, so both return the same values.</para>
/// </remarks>
public sealed partial class PostgresChatDatabase : ChatDatabase, IChatStore
{
    private readonly NpgsqlDataSource _dataSource;

    private PostgresChatDatabase(NpgsqlDataSource dataSource, string connectionString, string historyId)
    {
        _dataSource = dataSource;
        ConnectionString = connectionString;
        HistoryId = historyId;
    }

    /// <inheritdoc/>
    /// <remarks>Random when the schema is created, kept in the database, so every node reports the same one.</remarks>
    public string HistoryId { get; }

    /// <summary>The database and server, for logs (never the password).</summary>
    public string Describe()
    {
        var builder = new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString);
        return $"PostgreSQL database {builder.Database ?? builder.Username} on {builder.Host}:{builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// Connects to the database named by <paramref name="connectionString"/> (an Npgsql connection string), creates or
    /// migrates the schema (several nodes may do this at once; they take turns), and returns the store.
    /// </summary>
    /// <exception cref="InvalidOperationException">The database was written by a newer version.</exception>
    /// <exception cref="NpgsqlException">The server cannot be reached, or refuses the credentials.</exception>
    public static async Task<PostgresChatDatabase> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        NpgsqlDataSource dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            string historyId;
            await using (NpgsqlConnection connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
            await using (NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                historyId = await PostgresSchema.MigrateAsync(new StoreTransaction(connection, transaction), cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            return new PostgresChatDatabase(dataSource, connectionString, historyId);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The connection string as given (the data source's own leaves the password out), for connections outside the pool.</summary>
    internal string ConnectionString { get; }

    /// <summary>The pool, which the fan-out between nodes shares (see <see cref="PostgresSharedTransaction"/>).</summary>
    internal NpgsqlDataSource DataSource => _dataSource;

    /// <summary>Closes the pool's connections.</summary>
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction on a pooled connection, committed when it returns; or inside the
    /// flow's <see cref="PostgresSharedTransaction"/> when there is one (committed with it).
    /// </summary>
    private protected override async Task<T> WriteAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        if (PostgresSharedTransaction.Find(_dataSource) is { } shared)
        {
            return await shared.RunAsync(work, cancellationToken).ConfigureAwait(false);
        }

        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        T result = await work(new StoreTransaction(connection, transaction)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Runs <paramref name="work"/> (one statement) on a pooled connection, outside any transaction; or inside the
    /// flow's <see cref="PostgresSharedTransaction"/> when there is one, so that it sees that transaction's changes.
    /// </summary>
    private protected override async Task<T> ReadAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        if (PostgresSharedTransaction.Find(_dataSource) is { } shared)
        {
            return await shared.RunAsync(work, cancellationToken).ConfigureAwait(false);
        }

        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await work(new StoreTransaction(connection, null)).ConfigureAwait(false);
    }
}
