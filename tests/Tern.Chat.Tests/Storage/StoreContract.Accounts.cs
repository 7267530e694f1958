using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>Accounts and sessions.</summary>
public abstract partial class StoreContract<TStore>
{
    [Fact]
    public async Task An_account_is_created_once_and_found_by_key_and_id()
    {
        var created = await Store.CreateAccountAsync(new NewAccount("Alice", "alice", "a1ice", "Alice A.", "$argon2id$hash", Start));

        Assert.NotNull(created);
        Assert.Equal(new Account(created.Id, "Alice", "alice", "Alice A.", "$argon2id$hash", Start), created);
        Assert.Equal(created, await Store.FindAccountAsync("alice"));
        Assert.Equal(created, await Store.GetAccountAsync(created.Id));
        Assert.Null(await Store.FindAccountAsync("Alice")); // keys arrive normalized; the store compares them exactly
        Assert.Null(await Store.FindAccountAsync("bob"));
        Assert.Null(await Store.GetAccountAsync(created.Id + 1000));
    }

    [Fact]
    public async Task A_duplicate_key_or_skeleton_is_refused()
    {
        Assert.NotNull(await Store.CreateAccountAsync(new NewAccount("alice", "alice", "alice", "alice", "h", Start)));

        Assert.Null(await Store.CreateAccountAsync(new NewAccount("ALICE", "alice", "other-skeleton", "x", "h", Start)));
        Assert.Null(await Store.CreateAccountAsync(new NewAccount("аlice", "аlice", "alice", "x", "h", Start))); // Cyrillic а, same look
        Assert.NotNull(await Store.CreateAccountAsync(new NewAccount("bob", "bob", "bob", "bob", "h", Start)));
        Assert.Equal("alice", (await Store.FindAccountAsync("alice"))!.DisplayName);
        Assert.Null(await Store.FindAccountAsync("аlice"));
    }

    [Fact]
    public async Task Racing_sign_ups_for_one_name_make_one_account()
    {
        Account?[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            await Store.CreateAccountAsync(new NewAccount($"Name{i}", "name", i % 2 == 0 ? "name" : $"skeleton{i}", "n", "h", Start)))));

        Account winner = Assert.Single(results.OfType<Account>());
        Assert.Equal(winner, await Store.FindAccountAsync("name"));
    }

    [Fact]
    public async Task Accounts_get_distinct_ids_and_the_display_name_changes_alone()
    {
        Account alice = await AccountAsync("alice");
        Account bob = await AccountAsync("bob");

        await Store.SetDisplayNameAsync(alice.Id, "Alice 🐦");

        Assert.NotEqual(alice.Id, bob.Id);
        Assert.Equal(alice with { DisplayName = "Alice 🐦" }, await Store.GetAccountAsync(alice.Id));
        Assert.Equal(bob, await Store.GetAccountAsync(bob.Id));
    }

    [Fact]
    public async Task The_password_hash_is_replaced_alone_and_only_for_that_account()
    {
        Account alice = await AccountAsync("alice");
        Account bob = await AccountAsync("bob");
        await Store.CreateSessionAsync(new SessionRecord("alice-session", alice.Id, Start, Start, Start.AddDays(1)));

        await Store.SetPasswordHashAsync(alice.Id, "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3");
        await Store.SetPasswordHashAsync(bob.Id + alice.Id + 1000, "$argon2id$nobody"); // no such account: nothing happens

        Assert.Equal(alice with { PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3" }, await Store.GetAccountAsync(alice.Id));
        Assert.Equal(bob, await Store.GetAccountAsync(bob.Id));
        Assert.NotNull(await Store.FindSessionAsync("alice-session", Start)); // the same password: signed-in devices stay signed in
    }

    [Fact]
    public async Task A_session_is_found_until_it_expires_and_touching_slides_it()
    {
        Account alice = await AccountAsync("alice");
        var session = new SessionRecord("ab12", alice.Id, Start, Start, Start.AddDays(30));
        await Store.CreateSessionAsync(session);

        Assert.Equal(new AccountSession(alice, session), await Store.FindSessionAsync("ab12", Start.AddDays(1)));
        Assert.Null(await Store.FindSessionAsync("ab12", Start.AddDays(30)));
        Assert.Null(await Store.FindSessionAsync("ab13", Start));

        await Store.TouchSessionAsync("ab12", Start.AddDays(29), Start.AddDays(59));

        Assert.Equal(session with { LastSeen = Start.AddDays(29), Expires = Start.AddDays(59) }, (await Store.FindSessionAsync("ab12", Start.AddDays(58)))!.Session);
        Assert.Null(await Store.FindSessionAsync("ab12", Start.AddDays(59)));
    }

    [Fact]
    public async Task Touching_an_expired_session_does_not_revive_it()
    {
        Account alice = await AccountAsync("alice");
        await Store.CreateSessionAsync(new SessionRecord("ab12", alice.Id, Start, Start, Start.AddDays(1)));

        await Store.TouchSessionAsync("ab12", Start.AddDays(2), Start.AddDays(32));

        Assert.Null(await Store.FindSessionAsync("ab12", Start.AddDays(3)));
    }

    [Fact]
    public async Task Sessions_are_deleted_one_by_one_per_account_and_when_expired()
    {
        Account alice = await AccountAsync("alice");
        Account bob = await AccountAsync("bob");
        await Store.CreateSessionAsync(new SessionRecord("a1", alice.Id, Start, Start, Start.AddDays(1)));
        await Store.CreateSessionAsync(new SessionRecord("a2", alice.Id, Start, Start, Start.AddDays(2)));
        await Store.CreateSessionAsync(new SessionRecord("a3", alice.Id, Start, Start, Start.AddDays(3)));
        await Store.CreateSessionAsync(new SessionRecord("b1", bob.Id, Start, Start, Start.AddDays(1)));
        await Store.CreateSessionAsync(new SessionRecord("b2", bob.Id, Start, Start, Start.AddDays(10)));

        Assert.True(await Store.DeleteSessionAsync("a1"));
        Assert.False(await Store.DeleteSessionAsync("a1"));
        Assert.Null(await Store.FindSessionAsync("a1", Start));

        Assert.Equal(2, await Store.DeleteSessionsAsync(alice.Id));
        Assert.Null(await Store.FindSessionAsync("a3", Start));
        Assert.NotNull(await Store.FindSessionAsync("b1", Start));

        Assert.Equal(1, await Store.DeleteExpiredSessionsAsync(Start.AddDays(1)));
        Assert.Equal(0, await Store.DeleteExpiredSessionsAsync(Start.AddDays(1)));
        Assert.NotNull(await Store.FindSessionAsync("b2", Start.AddDays(1)));
        Assert.True(await Store.DeleteSessionAsync("b2"));
    }
}
