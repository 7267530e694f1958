using System.Text.Json;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Integration;

/// <summary>The chat on PostgreSQL (<see cref="ChatOptions.Postgres"/>): two chat processes' worth of apps on one database.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresChatIntegrationTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Two_apps_on_one_database_share_accounts_rooms_history_and_search()
    {
        string connectionString = await postgres.CreateDatabaseAsync();
        try
        {
            await using ChatServer first = await ChatServer.StartAsync(configureApp: options => options.Postgres = connectionString);
            await using ChatServer second = await ChatServer.StartAsync(configureApp: options => options.Postgres = connectionString);
            Assert.Contains("PostgreSQL database tern_test_", first.App.HistoryLocation, StringComparison.Ordinal);

            await using ChatAccount alice = await ChatAccount.SignUpAsync(first, "alice");
            await using ChatAccount bob = await ChatAccount.SignUpAsync(second, "bob");
            WebSocketTestClient aliceSocket = await alice.ConnectAsync();
            long room = (await aliceSocket.JoinRoomAsync("general")).GetProperty("conversation").Long("id");
            long said = (await aliceSocket.SayAsync(room, "hello from the first app")).Long("id");

            WebSocketTestClient bobSocket = await bob.ConnectAsync();
            Assert.Equal(aliceSocket.OfType("hello")[0].Str("historyId"), bobSocket.OfType("hello")[0].Str("historyId"));
            Assert.Equal(room, (await bobSocket.JoinRoomAsync("general")).GetProperty("conversation").Long("id"));
            await bobSocket.SendAsync(new { type = "history", conversation = room, after = 0, @ref = "all" });
            JsonElement history = await bobSocket.WaitForAnswerAsync("all");

            JsonElement message = Assert.Single(history.GetProperty("messages").EnumerateArray());
            Assert.Equal((said, "hello from the first app", "alice"), (message.Long("id"), message.Str("text"), message.Str("author")));
        }
        finally
        {
            await postgres.DropDatabaseAsync(connectionString);
        }
    }
}
