%% The workload of benches/tables.rs on ETS, from one process, for the
%% anchor figures beside bream-tables' own:
%%
%%   cd tables/benches && erlc ets_anchor.erl && erl -noshell -s ets_anchor run -s init stop
%%
%% Integer keys in the same scrambled order (64-bit, so ETS stores most as
%% bignums; SMALL=1 keeps them below 2^58, immediate integers, ETS's best
%% case). Inserts fill fresh tables of 100 000 rows; lookups and
%% update_counter run on a 100 000-row table; deletes empty 100 000-row
%% tables; range scans walk 100 rows with ets:next + ets:lookup, as Erlang
%% code walks an ordered_set. Each figure is the best of 7 rounds, as in
%% the Rust summary. Memory is ets:info(T, memory) over 1 000 000 rows.
-module(ets_anchor).
-export([run/0]).

-define(ROWS, 100000).
-define(ROUNDS, 7).

mask() ->
    case os:getenv("SMALL") of
        "1" -> 16#3FFFFFFFFFFFFFF;
        _ -> 16#FFFFFFFFFFFFFFFF
    end.

scramble(I) -> (I * 16#9E3779B97F4A7C15) band mask().

%% Best rate in M ops/s of ?ROUNDS runs of Fun, which returns {Ops, Micros}.
best(Fun) ->
    lists:max([begin {Ops, Micros} = Fun(), Ops / max(Micros, 1) end
               || _ <- lists:seq(1, ?ROUNDS)]).

timed(Ops, Fun) ->
    {Micros, _} = timer:tc(Fun),
    {Ops, Micros}.

line(Name, Rate) -> io:format("  ~-28s ~8.3f~n", [Name, Rate]).

run() ->
    io:format("ETS, best of ~p rounds, M ops/s (one process):~n", [?ROUNDS]),
    Lookups = 2000000,
    Scans = 50000,
    line("set insert", best(fun() -> fill_timed(set) end)),
    Set = filled(set),
    line("set lookup", best(fun() -> timed(Lookups, fun() -> look(Set, 0, Lookups) end) end)),
    line("set update_counter", best(fun() -> timed(Lookups, fun() -> upd(Set, 0, Lookups) end) end)),
    line("set delete", best(fun() -> delete_timed() end)),
    line("ordered_set insert", best(fun() -> fill_timed(ordered_set) end)),
    Ordered = filled(ordered_set),
    line("ordered_set lookup", best(fun() -> timed(Lookups, fun() -> look(Ordered, 0, Lookups) end) end)),
    line("ordered_set range_scan_100", best(fun() -> timed(Scans, fun() -> scan(Ordered, 0, Scans) end) end)),
    io:format("bytes per entry, 1000000 entries (ets:info memory):~n"),
    [memory(Kind) || Kind <- [set, ordered_set, bag, duplicate_bag]],
    ok.

filled(Kind) ->
    T = ets:new(t, [Kind, public]),
    ins(T, 0, ?ROWS),
    T.

fill_timed(Kind) ->
    T = ets:new(t, [Kind, public]),
    Result = timed(?ROWS, fun() -> ins(T, 0, ?ROWS) end),
    ets:delete(T),
    Result.

delete_timed() ->
    T = filled(set),
    Result = timed(?ROWS, fun() -> del(T, 0, ?ROWS) end),
    ets:delete(T),
    Result.

memory(Kind) ->
    N = 1000000,
    T = ets:new(m, [Kind, public]),
    ins(T, 0, N),
    io:format("  ~-14s ~6.1f~n", [Kind, ets:info(T, memory) * erlang:system_info(wordsize) / N]),
    ets:delete(T).

ins(_, N, N) -> ok;
ins(T, I, N) -> ets:insert(T, {scramble(I), I}), ins(T, I + 1, N).

look(_, N, N) -> ok;
look(T, I, N) -> ets:lookup(T, scramble(I rem ?ROWS)), look(T, I + 1, N).

upd(_, N, N) -> ok;
upd(T, I, N) -> ets:update_counter(T, scramble(I rem ?ROWS), 1), upd(T, I + 1, N).

del(_, N, N) -> ok;
del(T, I, N) -> ets:delete(T, scramble(I)), del(T, I + 1, N).

scan(_, N, N) -> ok;
scan(T, I, N) -> walk(T, scramble(I rem ?ROWS), 100), scan(T, I + 1, N).

walk(_, _, 0) -> ok;
walk(_, '$end_of_table', _) -> ok;
walk(T, K, N) -> ets:lookup(T, K), walk(T, ets:next(T, K), N - 1).
