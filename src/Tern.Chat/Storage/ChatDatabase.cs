namespace Tern.Chat.Storage;

/// <summary>
/// What <see cref="SqliteChatDatabase"/> and <see cref="PostgresChatDatabase"/> share: the parts of the store whose SQL
/// is the same in both (accounts and sessions), over the transactions each database runs in its own way.
/// </summary>
public abstract partial class ChatDatabase : IAccountStore
{
    /// <summary>Only the stores of this assembly derive from it.</summary>
    private protected ChatDatabase()
    {
    }

    /// <summary>Runs <paramref name="work"/> in a write transaction, committed when it returns.</summary>
    private protected abstract Task<T> WriteAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> as a read that sees one snapshot.</summary>
    private protected abstract Task<T> ReadAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken cancellationToken);
}
