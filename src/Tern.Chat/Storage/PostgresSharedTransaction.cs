using Npgsql;

namespace Tern.Chat.Storage;

/// <summary>
/// One transaction that every call of a <see cref="PostgresChatDatabase"/> on one async flow joins, from
/// <see cref="Join"/> until it commits or is disposed: a fan-out batch's (<see cref="Cluster.PostgresChatFanout"/>),
/// so that a conversation's changes and the events announcing them commit together, under the conversation's lock.
/// </summary>
/// <remarks>
/// <para>The connection and the transaction are opened on first use, and <c>onOpen</c> runs first in it (it takes the
/// conversation's lock). Calls take turns on the connection; a call that fails leaves the transaction failed, and so
/// fails the batch: the caller answers with an error and nothing is stored or announced.</para>
/// <para>The flow is marked with an <see cref="AsyncLocal{T}"/> set in <see cref="Join"/>, which must therefore run
/// in the method that goes on to make the calls (a value set inside an async method ends with it). A transaction that
/// has ended is ignored, so a flow that goes on after it uses the pool again.</para>
/// </remarks>
internal sealed class PostgresSharedTransaction : IAsyncDisposable
{
    private static readonly AsyncLocal<PostgresSharedTransaction?> s_current = new();

    private readonly NpgsqlDataSource _dataSource;
    private readonly Func<StoreTransaction, CancellationToken, Task> _onOpen;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;
    private volatile bool _ended;

    private PostgresSharedTransaction(NpgsqlDataSource dataSource, Func<StoreTransaction, CancellationToken, Task> onOpen)
    {
        _dataSource = dataSource;
        _onOpen = onOpen;
    }

    /// <summary>Starts a shared transaction for the calling flow (opened on first use).</summary>
    public static PostgresSharedTransaction Join(NpgsqlDataSource dataSource, Func<StoreTransaction, CancellationToken, Task> onOpen)
    {
        var shared = new PostgresSharedTransaction(dataSource, onOpen);
        s_current.Value = shared;
        return shared;
    }

    /// <summary>The flow's open shared transaction on <paramref name="dataSource"/>, if any.</summary>
    public static PostgresSharedTransaction? Find(NpgsqlDataSource dataSource) =>
        s_current.Value is { _ended: false } shared && ReferenceEquals(shared._dataSource, dataSource) ? shared : null;

    /// <summary>Runs a store call inside the transaction.</summary>
    public async Task<T> RunAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await work(await OpenAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>Runs <paramref name="last"/> inside the transaction, then commits it.</summary>
    public async Task CommitAsync(Func<StoreTransaction, Task> last, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await last(await OpenAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            await _transaction!.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _ended = true;
            _turn.Release();
        }
    }

    /// <summary>Ends the transaction; rolled back unless committed.</summary>
    public async ValueTask DisposeAsync()
    {
        _ended = true;
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_transaction is not null)
            {
                await _transaction.DisposeAsync().ConfigureAwait(false);
            }

            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _transaction = null;
            _connection = null;
            _turn.Release();
        }
    }

    private async Task<StoreTransaction> OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_ended && _transaction is null, this);
        if (_transaction is null)
        {
            _connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            _transaction = await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await _onOpen(new StoreTransaction(_connection, _transaction), cancellationToken).ConfigureAwait(false);
        }

        return new StoreTransaction(_connection!, _transaction);
    }
}
