"""Versioned warehouse schema. Each migration runs once, in order, inside one transaction.

Every table whose rows belong to a trading day carries that day in ``as_of``.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS bars (
            symbol VARCHAR NOT NULL,
            as_of DATE NOT NULL,
            open DOUBLE,
            high DOUBLE,
            low DOUBLE,
            close DOUBLE NOT NULL,
            volume DOUBLE,
            source VARCHAR NOT NULL,
            available_at TIMESTAMP NOT NULL,
            PRIMARY KEY (symbol, as_of)
        );
        CREATE TABLE IF NOT EXISTS quarantine (
            source VARCHAR NOT NULL,
            symbol VARCHAR,
            as_of DATE,
            reason VARCHAR NOT NULL,
            raw VARCHAR,
            recorded_at TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS features (
            symbol VARCHAR NOT NULL,
            as_of DATE NOT NULL,
            close DOUBLE NOT NULL,
            ret_1d DOUBLE,
            ret_5d DOUBLE,
            ret_20d DOUBLE,
            sma_20 DOUBLE,
            sma_50 DOUBLE,
            sma_200 DOUBLE,
            vol_20 DOUBLE,
            rsi_14 DOUBLE,
            zscore_20 DOUBLE,
            high_55 DOUBLE,
            low_20 DOUBLE,
            volume_ratio DOUBLE,
            PRIMARY KEY (symbol, as_of)
        );
        CREATE TABLE IF NOT EXISTS regimes (
            as_of DATE PRIMARY KEY,
            regime VARCHAR NOT NULL,
            benchmark_close DOUBLE,
            trend DOUBLE,
            volatility DOUBLE,
            breadth DOUBLE,
            vix DOUBLE,
            defensive BOOLEAN NOT NULL
        );
        CREATE TABLE IF NOT EXISTS plans (
            as_of DATE PRIMARY KEY,
            regime VARCHAR NOT NULL,
            stance VARCHAR NOT NULL,
            exposure_target DOUBLE NOT NULL,
            watchlist VARCHAR NOT NULL,
            key_levels VARCHAR NOT NULL,
            tasks VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS strategies (
            strategy_id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            family VARCHAR NOT NULL,
            genome VARCHAR NOT NULL,
            parents VARCHAR NOT NULL,
            origin VARCHAR NOT NULL,
            as_of DATE,
            status VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS strategy_evaluations (
            as_of DATE NOT NULL,
            strategy_id VARCHAR NOT NULL,
            n_trades INTEGER NOT NULL,
            win_rate DOUBLE,
            sharpe DOUBLE,
            max_drawdown DOUBLE,
            total_return DOUBLE,
            score DOUBLE NOT NULL,
            status VARCHAR NOT NULL,
            PRIMARY KEY (as_of, strategy_id)
        );
        CREATE TABLE IF NOT EXISTS proposals (
            as_of DATE NOT NULL,
            proposal_id VARCHAR PRIMARY KEY,
            symbol VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            strategy_id VARCHAR NOT NULL,
            strength DOUBLE NOT NULL,
            rationale VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS decisions (
            as_of DATE NOT NULL,
            decision_id VARCHAR PRIMARY KEY,
            proposal_id VARCHAR NOT NULL,
            symbol VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            strategy_id VARCHAR NOT NULL,
            verdict VARCHAR NOT NULL,
            confidence DOUBLE NOT NULL,
            low_certainty BOOLEAN NOT NULL,
            weight_aggressive DOUBLE NOT NULL,
            weight_conservative DOUBLE NOT NULL,
            weight_combined DOUBLE NOT NULL,
            rounds INTEGER NOT NULL,
            summary VARCHAR NOT NULL,
            transcript VARCHAR NOT NULL,
            memories_used VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS orders (
            as_of DATE NOT NULL,
            order_id VARCHAR PRIMARY KEY,
            sequence INTEGER NOT NULL,
            account VARCHAR NOT NULL,
            decision_id VARCHAR,
            strategy_id VARCHAR NOT NULL,
            symbol VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            quantity DOUBLE NOT NULL,
            order_type VARCHAR NOT NULL,
            purpose VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            reason VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS fills (
            as_of DATE NOT NULL,
            fill_id VARCHAR PRIMARY KEY,
            order_id VARCHAR NOT NULL,
            account VARCHAR NOT NULL,
            symbol VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            quantity DOUBLE NOT NULL,
            price DOUBLE NOT NULL,
            fee DOUBLE NOT NULL,
            slippage_bps DOUBLE NOT NULL
        );
        CREATE TABLE IF NOT EXISTS positions (
            as_of DATE NOT NULL,
            account VARCHAR NOT NULL,
            symbol VARCHAR NOT NULL,
            quantity DOUBLE NOT NULL,
            avg_cost DOUBLE NOT NULL,
            close DOUBLE NOT NULL,
            market_value DOUBLE NOT NULL,
            unrealized_pnl DOUBLE NOT NULL,
            weight DOUBLE NOT NULL,
            opened_as_of DATE NOT NULL,
            days_held INTEGER NOT NULL,
            entry_fees DOUBLE NOT NULL,
            strategy_id VARCHAR NOT NULL,
            decision_id VARCHAR,
            PRIMARY KEY (as_of, account, symbol)
        );
        CREATE TABLE IF NOT EXISTS accounts (
            as_of DATE NOT NULL,
            account VARCHAR NOT NULL,
            cash DOUBLE NOT NULL,
            equity DOUBLE NOT NULL,
            gross_exposure DOUBLE NOT NULL,
            daily_return DOUBLE NOT NULL,
            drawdown DOUBLE NOT NULL,
            benchmark_close DOUBLE,
            PRIMARY KEY (as_of, account)
        );
        CREATE TABLE IF NOT EXISTS trades (
            as_of DATE NOT NULL,
            trade_id VARCHAR PRIMARY KEY,
            account VARCHAR NOT NULL,
            symbol VARCHAR NOT NULL,
            strategy_id VARCHAR NOT NULL,
            opened_as_of DATE NOT NULL,
            quantity DOUBLE NOT NULL,
            entry_price DOUBLE NOT NULL,
            exit_price DOUBLE NOT NULL,
            pnl DOUBLE NOT NULL,
            return_pct DOUBLE NOT NULL,
            holding_days INTEGER NOT NULL,
            exit_reason VARCHAR NOT NULL,
            decision_id VARCHAR
        );
        CREATE TABLE IF NOT EXISTS memories (
            as_of DATE NOT NULL,
            memory_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            tier VARCHAR NOT NULL,
            symbol VARCHAR,
            strategy_id VARCHAR,
            regime VARCHAR,
            importance INTEGER NOT NULL,
            outcome_return DOUBLE,
            text VARCHAR NOT NULL,
            who VARCHAR,
            what VARCHAR,
            "when" VARCHAR,
            "where" VARCHAR,
            why VARCHAR,
            how VARCHAR,
            source VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS reports (
            as_of DATE NOT NULL,
            kind VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            markdown VARCHAR NOT NULL,
            PRIMARY KEY (as_of, kind)
        );
        """,
    ),
    (
        2,
        # Controls become dated, audited events; every order gets a terminal state.
        # Orders stored before keep their old status as the submission verdict, and
        # their outcome is recovered from the fills and the old cancellation rows.
        """
        CREATE TABLE IF NOT EXISTS control_events (
            event_id VARCHAR PRIMARY KEY,
            action VARCHAR NOT NULL,
            effective_from DATE NOT NULL,
            reason VARCHAR NOT NULL,
            recorded_by VARCHAR NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        );
        ALTER TABLE orders ADD COLUMN verdict VARCHAR;
        ALTER TABLE orders ADD COLUMN resolution VARCHAR;
        ALTER TABLE orders ADD COLUMN filled_quantity DOUBLE;
        ALTER TABLE orders ADD COLUMN unfilled_quantity DOUBLE;
        ALTER TABLE orders ADD COLUMN resolved_as_of DATE;
        UPDATE orders SET verdict = CASE WHEN status = 'accepted' THEN 'accepted'
                                         ELSE 'rejected' END,
                          filled_quantity = 0.0, unfilled_quantity = quantity;
        UPDATE orders SET status = 'rejected', resolution = reason, resolved_as_of = as_of
            WHERE verdict = 'rejected' AND order_type <> 'cancel';
        UPDATE orders SET filled_quantity = f.filled,
                          unfilled_quantity = orders.quantity - f.filled,
                          status = CASE WHEN f.filled >= orders.quantity - 1e-9 THEN 'filled'
                                        ELSE 'partially_filled' END,
                          resolution = 'filled ' || f.filled || ' (recorded before schema 2)',
                          resolved_as_of = f.day
            FROM (SELECT order_id, sum(quantity) AS filled, min(as_of) AS day
                  FROM fills GROUP BY order_id) f
            WHERE orders.order_id = f.order_id AND orders.verdict = 'accepted';
        UPDATE orders SET status = 'cancelled', resolution = c.reason, resolved_as_of = c.as_of
            FROM (SELECT as_of, reason, regexp_extract(reason, 'order (\S+) cancelled', 1)
                         AS cancelled_id
                  FROM orders WHERE order_type = 'cancel') c
            WHERE orders.order_id = c.cancelled_id AND orders.status = 'accepted';
        DELETE FROM orders WHERE order_type = 'cancel';
        UPDATE orders SET status = 'expired', resolved_as_of = (
                SELECT min(a.as_of) FROM accounts a WHERE a.as_of > orders.as_of),
                          resolution = 'no fill recorded (before schema 2)'
            WHERE status = 'accepted'
              AND EXISTS (SELECT 1 FROM accounts a WHERE a.as_of > orders.as_of);
        UPDATE orders SET status = 'pending' WHERE status = 'accepted';
        """,
    ),
    (
        3,
        """
        CREATE TABLE IF NOT EXISTS step_checkpoints (
            step VARCHAR NOT NULL,
            first_day DATE NOT NULL,
            last_day DATE NOT NULL,
            fingerprint VARCHAR NOT NULL,
            committed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (step, first_day, last_day)
        );
        """,
    ),
    (
        4,
        # The gene pool evolves: lineage on each genome, the evidence behind each
        # evaluation, and every status change with its reason.
        """
        ALTER TABLE strategies ADD COLUMN generation INTEGER DEFAULT 0;
        ALTER TABLE strategies ADD COLUMN born_as_of DATE;
        ALTER TABLE strategy_evaluations ADD COLUMN oos_trades INTEGER DEFAULT 0;
        ALTER TABLE strategy_evaluations ADD COLUMN deflated_sharpe DOUBLE;
        ALTER TABLE strategy_evaluations ADD COLUMN recent_return DOUBLE;
        ALTER TABLE strategy_evaluations ADD COLUMN year_ago_return DOUBLE;
        CREATE TABLE IF NOT EXISTS strategy_history (
            as_of DATE NOT NULL,
            strategy_id VARCHAR NOT NULL,
            event VARCHAR NOT NULL,
            old_status VARCHAR,
            new_status VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            statistics VARCHAR NOT NULL,
            PRIMARY KEY (as_of, strategy_id)
        );
        """,
    ),
    (
        5,
        # Trailing stops: each position's highest close since entry, so a run that
        # starts from stored positions exits where an uninterrupted one would.
        """
        ALTER TABLE positions ADD COLUMN peak_close DOUBLE;
        """,
    ),
    (
        6,
        # Dated headlines (imported, or generated for drills: ``generated``), and each
        # session's news sentiment per symbol ('*': headlines without a symbol).
        # ``as_of`` of a headline is the UTC day of ``published_at``; ``dedupe_key`` is
        # its normalised headline, symbol and that day.
        """
        CREATE TABLE IF NOT EXISTS news (
            news_id VARCHAR PRIMARY KEY,
            as_of DATE NOT NULL,
            symbol VARCHAR,
            published_at TIMESTAMP NOT NULL,
            available_at TIMESTAMP NOT NULL,
            headline VARCHAR NOT NULL,
            body VARCHAR,
            source VARCHAR NOT NULL,
            language VARCHAR NOT NULL,
            generated BOOLEAN NOT NULL,
            dedupe_key VARCHAR NOT NULL,
            imported_at TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS news_sentiment (
            as_of DATE NOT NULL,
            symbol VARCHAR NOT NULL,
            headlines INTEGER NOT NULL,
            score DOUBLE NOT NULL,
            positive INTEGER NOT NULL,
            negative INTEGER NOT NULL,
            generated_share DOUBLE NOT NULL,
            top_headline VARCHAR NOT NULL,
            top_published_at TIMESTAMP NOT NULL,
            top_generated BOOLEAN NOT NULL,
            window_start TIMESTAMP NOT NULL,
            window_end TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, symbol)
        );
        """,
    ),
    (
        7,
        # Perception: the market's mood per day, anomaly scores per bar and dated events
        # (earnings, central-bank meetings, headlines) with their impact and response.
        """
        CREATE TABLE IF NOT EXISTS market_sentiment (
            as_of DATE NOT NULL,
            market VARCHAR NOT NULL,
            volatility_source VARCHAR NOT NULL,
            volatility_level DOUBLE,
            volatility_change_5d DOUBLE,
            breadth DOUBLE,
            advancers INTEGER NOT NULL,
            decliners INTEGER NOT NULL,
            advance_decline DOUBLE,
            sector_momentum VARCHAR NOT NULL,
            leading_sector VARCHAR,
            lagging_sector VARCHAR,
            fear_greed DOUBLE,
            turning_point VARCHAR,
            reason VARCHAR NOT NULL,
            PRIMARY KEY (as_of, market)
        );
        CREATE TABLE IF NOT EXISTS anomalies (
            symbol VARCHAR NOT NULL,
            as_of DATE NOT NULL,
            return_z DOUBLE,
            volume_burst DOUBLE,
            volatility_spike DOUBLE,
            gap DOUBLE,
            score DOUBLE NOT NULL,
            black_swan BOOLEAN NOT NULL,
            reason VARCHAR NOT NULL,
            PRIMARY KEY (symbol, as_of)
        );
        CREATE TABLE IF NOT EXISTS market_events (
            event_id VARCHAR PRIMARY KEY,
            as_of DATE NOT NULL,
            known_from DATE NOT NULL,
            kind VARCHAR NOT NULL,
            symbol VARCHAR,
            title VARCHAR NOT NULL,
            impact INTEGER NOT NULL,
            reason VARCHAR NOT NULL,
            memory VARCHAR NOT NULL,
            response VARCHAR NOT NULL,
            blackout_days VARCHAR NOT NULL,
            size_scale DOUBLE NOT NULL,
            source VARCHAR NOT NULL
        );
        """,
    ),
    (
        8,
        # The live source chain's history: every source's answer for every symbol of
        # every fetch, its quality score and what became of it (active, standby,
        # cross-check, failed, cache). ``as_of`` is the last day the fetch asked for.
        """
        CREATE TABLE IF NOT EXISTS source_quality (
            fetched_at TIMESTAMP NOT NULL,
            as_of DATE NOT NULL,
            market VARCHAR NOT NULL,
            symbol VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            rank INTEGER NOT NULL,
            outcome VARCHAR NOT NULL,
            score DOUBLE,
            latency_s DOUBLE,
            rows INTEGER NOT NULL,
            expected INTEGER NOT NULL,
            gaps INTEGER NOT NULL,
            off_calendar INTEGER NOT NULL,
            stale_sessions INTEGER NOT NULL,
            jumps INTEGER NOT NULL,
            compared INTEGER NOT NULL,
            disagreements INTEGER NOT NULL,
            max_deviation DOUBLE,
            error VARCHAR
        );
        """,
    ),
    (
        9,
        # Every evaluation of a blocking bar check (pass or fail), with the failing rows
        # as the markdown table the Dagster UI shows: what the supervisor app lists.
        """
        CREATE TABLE IF NOT EXISTS bar_check_results (
            evaluated_at TIMESTAMP NOT NULL,
            check_name VARCHAR NOT NULL,
            window_start DATE NOT NULL,
            window_end DATE NOT NULL,
            passed BOOLEAN NOT NULL,
            description VARCHAR,
            failed_rows INTEGER NOT NULL,
            failing_rows VARCHAR NOT NULL,
            run_id VARCHAR
        );
        """,
    ),
    (
        10,
        # A home holds one market (one calendar, one currency): the market of its first
        # replay, recorded so a replay of another market is refused, not mixed in.
        """
        CREATE TABLE IF NOT EXISTS home_market (
            market VARCHAR NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        11,
        # A live delivery on another share basis than the stored bars (a forward-adjusted
        # source re-based its history at a dividend or bonus issue): the factor that took
        # the stored basis to the delivered one. The delivery was divided by it before it
        # was stored, so the stored history keeps one basis and is never rewritten.
        """
        CREATE TABLE IF NOT EXISTS basis_factors (
            symbol VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            first_day DATE NOT NULL,
            last_day DATE NOT NULL,
            factor DOUBLE NOT NULL,
            overlap_days INTEGER NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        12,
        # Memory that learns: lessons a person taught (their own table: the trading loop
        # replaces a recomputed month's ``memories`` rows), and the audit of every
        # promotion to a higher tier and every forgetting, dated by the session on which
        # it took effect.
        """
        CREATE TABLE IF NOT EXISTS taught_memories (
            as_of DATE NOT NULL,
            memory_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            tier VARCHAR NOT NULL,
            symbol VARCHAR,
            strategy_id VARCHAR,
            regime VARCHAR,
            importance INTEGER NOT NULL,
            outcome_return DOUBLE,
            text VARCHAR NOT NULL,
            tags VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            recorded_by VARCHAR NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS memory_audit (
            as_of DATE NOT NULL,
            memory_id VARCHAR NOT NULL,
            event VARCHAR NOT NULL,
            tier_before VARCHAR,
            tier_after VARCHAR NOT NULL,
            importance DOUBLE NOT NULL,
            reason VARCHAR NOT NULL,
            PRIMARY KEY (as_of, memory_id, event)
        );
        """,
    ),
    (
        13,
        # Who argued each decision and what it cost: the reasoner that answered (the
        # deterministic one, or an LLM), the model tried, why it fell back, the calls and
        # tokens it spent, the model's knowledge cut-off, the data window each call saw,
        # and the judge's confidence before calibration. Role weights per regime: which
        # role has been right, as the days went.
        """
        ALTER TABLE decisions ADD COLUMN raw_confidence DOUBLE;
        ALTER TABLE decisions ADD COLUMN reasoner VARCHAR DEFAULT 'deterministic';
        ALTER TABLE decisions ADD COLUMN model VARCHAR;
        ALTER TABLE decisions ADD COLUMN fallback_reason VARCHAR;
        ALTER TABLE decisions ADD COLUMN llm_calls INTEGER DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN cache_hits INTEGER DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN prompt_tokens INTEGER DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN completion_tokens INTEGER DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN llm_cost DOUBLE DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN knowledge_cutoff DATE;
        ALTER TABLE decisions ADD COLUMN cleanliness VARCHAR DEFAULT 'replay';
        ALTER TABLE decisions ADD COLUMN prompt_log VARCHAR DEFAULT '[]';
        CREATE TABLE IF NOT EXISTS role_weights (
            as_of DATE NOT NULL,
            regime VARCHAR NOT NULL,
            role VARCHAR NOT NULL,
            weight DOUBLE NOT NULL,
            "right" INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (as_of, regime, role)
        );
        """,
    ),
    (
        14,
        # The knowledge graph (agent/memory/knowledge_graph.py) as an append-only log: each
        # edge's state after each day of its evidence, and each node on each day one of its
        # edges changed (``as_of`` = ``last_seen``). Two nodes share at most one edge, whose
        # relation may change; a query as of D reads the last rows dated before D.
        """
        CREATE TABLE IF NOT EXISTS knowledge_nodes (
            node_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            first_seen DATE NOT NULL,
            last_seen DATE NOT NULL,
            as_of DATE NOT NULL,
            PRIMARY KEY (node_id, as_of)
        );
        CREATE TABLE IF NOT EXISTS knowledge_edges (
            source VARCHAR NOT NULL,
            relation VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            weight DOUBLE NOT NULL,
            evidence_count INTEGER NOT NULL,
            first_seen DATE NOT NULL,
            last_seen DATE NOT NULL,
            as_of DATE NOT NULL,
            evidence VARCHAR NOT NULL,
            PRIMARY KEY (source, target, as_of)
        );
        """,
    ),
    (
        15,
        # Reflection at four horizons (agent/reflection/cycles.py): every change a review
        # makes to the agent's behaviour, the plans of each horizon, the quarterly
        # meta-review's proposals, and the humans' decisions on changes and proposals
        # (rollback, approve, reject), which a replay reads as data.
        """
        CREATE TABLE IF NOT EXISTS changes (
            change_id VARCHAR PRIMARY KEY,
            as_of DATE NOT NULL,
            kind VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            old_value VARCHAR,
            new_value VARCHAR,
            evidence VARCHAR NOT NULL,
            review VARCHAR NOT NULL,
            effective_from DATE NOT NULL,
            metric VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS horizon_plans (
            plan_id VARCHAR PRIMARY KEY,
            as_of DATE NOT NULL,
            horizon VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            regime VARCHAR NOT NULL,
            targets VARCHAR NOT NULL,
            tasks VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS framework_proposals (
            proposal_id VARCHAR PRIMARY KEY,
            as_of DATE NOT NULL,
            review VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            evidence VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            new_value VARCHAR,
            expires_on DATE NOT NULL
        );
        CREATE TABLE IF NOT EXISTS change_decisions (
            decision_id VARCHAR PRIMARY KEY,
            as_of DATE NOT NULL,
            subject_id VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            effective_from DATE NOT NULL,
            reason VARCHAR NOT NULL,
            recorded_by VARCHAR NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        );
        ALTER TABLE decisions ADD COLUMN changes_applied VARCHAR DEFAULT '[]';
        ALTER TABLE decisions ADD COLUMN proposed_weight DOUBLE;
        """,
    ),
]


# Tables the CLI can export; every one has an ``as_of`` column (a seeded strategy, which
# belongs to no trading day, has a NULL ``as_of``).
EXPORTABLE_TABLES = (
    "bars", "quarantine", "features", "regimes", "plans", "strategies",
    "strategy_evaluations", "strategy_history", "proposals", "decisions", "orders", "fills",
    "positions", "accounts", "trades", "memories", "reports", "news", "news_sentiment",
    "source_quality", "market_sentiment", "anomalies", "market_events", "role_weights",
    "knowledge_nodes", "knowledge_edges", "memory_audit", "changes", "horizon_plans",
    "framework_proposals", "change_decisions",
)
