using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Storage;

/// <summary>The store contract on PostgreSQL: a database of its own per test, on the collection's throwaway server.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresChatDatabaseContractTests(PostgresFixture postgres) : StoreContract<PostgresChatDatabase>
{
    private string? _connectionString;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_connectionString is not null)
        {
            await postgres.DropDatabaseAsync(_connectionString);
        }
    }

    protected override async Task<PostgresChatDatabase> OpenStoreAsync()
    {
        _connectionString = await postgres.CreateDatabaseAsync();
        return await PostgresChatDatabase.OpenAsync(_connectionString);
    }
}
