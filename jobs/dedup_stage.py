"""Dedup + filter: ``bronze/sources`` -> ``silver/programs``, ``silver/signatures``, ``silver/rejects``.

Only programs not yet processed (in neither silver/programs nor silver/rejects) are read.
Per batch (``udfs/analyse_programs.py``): static filters, decontamination, the normalised exact key,
MinHash signature and LSH band keys. Then, on DataFrames:

1. exact duplicates: one keeper per exact key;
2. near duplicates: programs sharing a band key form a bucket; each bucket gives a star of
   edges to its smallest id (never all pairs); edges are optionally verified by estimated
   Jaccard; connected components by min-label propagation give one keeper per component.

The corpus already published wins: a new program that duplicates one in
``silver/signatures`` is dropped and the old one stays; the old programs' code is never
read again. Among new programs the keeper has the most inputs, then the smallest id.

An exact duplicate computes what its keeper computes (same normalised code, literals
included), so its distinct inputs join the keeper's: the keeper's own first, then each
duplicate's in id order, repeats (same ``input_json``) left out, up to
``filters.max_inputs``; its rejects row names the keeper and how many of its inputs joined.
A near duplicate's inputs do not join: it may compute something else (another operator, a
line more), and an input's expected output is only known for the program it came with.
Inputs never join a keeper an earlier run published (its row and its runs are final).

MLlib's ``MinHashLSH`` is not used: it ORs single-hash tables (one row per band, no
AND-amplification), so its candidate threshold cannot be set by bands x rows, its
``approxSimilarityJoin`` materialises all candidate pairs, and it exists on classic Spark
only (not Spark Connect / Sail).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from tracepile.analysis.decontam import BenchmarkIndex
from tracepile.analysis.filters import FILTER_NAMES
from tracepile.analysis.minhash import lsh_threshold
from tracepile.analysis.normalize import KEY_VERSION
from tracepile.config import TracepileConfig
from tracepile.lakehouse import Lakehouse
from tracepile.stage import Resources, Stage, StageRun, require_table
from tracepile.summary import StageSummary, Tally
from tracepile.tables import BRONZE_SOURCES, SILVER_PROGRAMS, SILVER_REJECTS, SILVER_SIGNATURES
from tracepile.udfs.analyse_programs import (
    ANALYSED_ARROW_SCHEMA,
    ANALYSIS_COLUMNS,
    EDGE_ARROW_SCHEMA,
    KEYS_ARROW_SCHEMA,
    KEYS_COLUMNS,
    DedupOptions,
    analyse_batches,
    edge_similarities,
    key_batches,
)
from tracepile.vocab import DedupReason, InputDrop

STAGE = "dedup"
INPUT_DROP_COLUMNS = tuple(drop.value for drop in InputDrop)  # counts per program in silver/programs


@dataclass
class Components:
    labels: DataFrame  # program_id, component (smallest program_id in the component)
    iterations: int
    converged: bool


def analysis_workers(config: TracepileConfig, programs: int) -> int:
    """Worker processes for the per-program work: only the embedded engine needs them (it runs
    Python UDFs in its own process, under one GIL); classic Spark's Python workers are
    processes already."""
    if config.engine != "local" or programs < config.dedup.pool_min_programs:
        return 1
    return config.dedup.workers or os.cpu_count() or 1


def dedup_options(config: TracepileConfig, workers: int = 1) -> DedupOptions:
    dedup = config.dedup
    benchmarks = (
        BenchmarkIndex.from_files(dedup.benchmarks, dedup.decontam_ngram) if dedup.benchmarks else None
    )
    return DedupOptions(
        limits=config.filters,
        minhash=dedup,
        benchmarks=benchmarks,
        workers=workers,
    )


def unprocessed_sources(lakehouse: Lakehouse) -> DataFrame:
    """bronze/sources rows that no earlier dedup run kept or rejected."""
    sources = lakehouse.read(BRONZE_SOURCES)
    for spec in (SILVER_PROGRAMS, SILVER_REJECTS):
        if lakehouse.exists(spec):
            done = lakehouse.read(spec)
            if spec is SILVER_REJECTS:
                done = done.where(F.col("stage") == STAGE)
            sources = sources.join(done.select("program_id").distinct(), "program_id", "left_anti")
    return sources


def analyse(sources: DataFrame, options: DedupOptions) -> DataFrame:
    schema = from_arrow_schema(ANALYSED_ARROW_SCHEMA)
    return sources.select(*ANALYSIS_COLUMNS).mapInArrow(partial(analyse_batches, options=options), schema)


def rekeyed_signatures(lakehouse: Lakehouse, options: DedupOptions) -> DataFrame | None:
    """silver/signatures with every row keyed by an earlier ``KEY_VERSION`` recomputed from
    its program's code in silver/programs (its run_id kept), so new programs are compared
    with old ones under one scheme; None when every row is current. A row whose program
    cannot be normalised now keeps its old keys and version."""
    signatures = lakehouse.read(SILVER_SIGNATURES)
    stale = signatures.where(F.col("key_version") != KEY_VERSION)
    if stale.isEmpty():
        return None
    code = (
        lakehouse.read(SILVER_PROGRAMS).select(*KEYS_COLUMNS).join(stale.select("program_id"), "program_id")
    )
    fresh = code.mapInArrow(partial(key_batches, options=options), from_arrow_schema(KEYS_ARROW_SCHEMA))
    renewed = stale.join(
        fresh.withColumnsRenamed({c: f"new_{c}" for c in fresh.columns}).withColumnRenamed(
            "new_program_id", "program_id"
        ),
        "program_id",
        "left",
    )
    done = F.col("new_exact_key").isNotNull()
    rekeyed = renewed.select(
        "program_id",
        *(
            F.when(done, F.col(f"new_{c}")).otherwise(F.col(c)).alias(c)
            for c in ("exact_key", "band_keys", "signature")
        ),
        "run_id",
        F.when(done, F.lit(KEY_VERSION)).otherwise(F.col("key_version")).cast("long").alias("key_version"),
    )
    return signatures.where(F.col("key_version") == KEY_VERSION).unionByName(rekeyed)


def _keeper() -> Column:
    """Per group, the program to keep: an existing one, else most inputs, then smallest id."""
    order = (F.col("existing").desc(), F.col("n_inputs").desc(), F.col("program_id"))
    return F.first("program_id").over(Window.partitionBy("group").orderBy(*order))


def exact_duplicates(passing: DataFrame, existing: DataFrame) -> DataFrame:
    """New programs whose exact key is taken: program_id, keeper."""
    nodes = passing.select(
        "program_id", "exact_key", F.size("inputs").alias("n_inputs"), F.lit(False).alias("existing")
    )
    nodes = nodes.unionByName(
        existing.select("program_id", "exact_key", F.lit(0).alias("n_inputs"), F.lit(True).alias("existing"))
    )
    ranked = nodes.withColumnRenamed("exact_key", "group").withColumn("keeper", _keeper())
    return ranked.where(~F.col("existing") & (F.col("program_id") != F.col("keeper"))).select(
        "program_id", "keeper"
    )


def joined_inputs(passing: DataFrame, exact: DataFrame, max_inputs: int) -> tuple[DataFrame, DataFrame]:
    """The inputs of each new keeper of exact duplicates once theirs have joined, and for each
    duplicate of a new keeper whether its inputs bind as the keeper's do (the same
    ``interface``) and how many joined: (program_id, inputs), (program_id, same_interface,
    inputs_joined).

    Order: the keeper's own inputs, then each duplicate's (by program_id, in their order); an
    ``input_json`` already there is a repeat; at most ``max_inputs`` in all.
    """
    own = passing.select("program_id", "inputs", "interface")
    # only keepers in this batch: a keeper published by an earlier run keeps its inputs
    keepers = own.select(F.col("program_id").alias("keeper"), F.col("interface").alias("keeper_interface"))
    duplicates = exact.join(keepers, "keeper").join(own, "program_id")
    duplicates = duplicates.withColumn("same_interface", F.col("interface") == F.col("keeper_interface"))
    givers = duplicates.where(F.col("same_interface"))
    offered = (
        own.join(givers.select(F.col("keeper").alias("program_id")).distinct(), "program_id")
        .select(
            F.col("program_id").alias("keeper"),
            F.col("program_id").alias("giver"),
            F.lit(0).alias("rank"),
            F.posexplode("inputs").alias("position", "input"),
        )
        .unionByName(
            givers.select(
                "keeper",
                F.col("program_id").alias("giver"),
                F.lit(1).alias("rank"),
                F.posexplode("inputs").alias("position", "input"),
            )
        )
    )
    order = ("rank", "giver", "position")
    first_offers = offered.withColumn(
        "offer", F.row_number().over(Window.partitionBy("keeper", "input.input_json").orderBy(*order))
    ).where(F.col("offer") == 1)
    taken = first_offers.withColumn(
        "slot", F.row_number().over(Window.partitionBy("keeper").orderBy(*order))
    ).where(F.col("slot") <= max_inputs)
    inputs = taken.groupBy("keeper").agg(
        F.sort_array(F.collect_list(F.struct(*order, "input"))).alias("ordered")
    )
    joined = (
        duplicates.select("program_id", "same_interface")
        .join(
            taken.where(F.col("rank") == 1).groupBy(F.col("giver").alias("program_id")).count(),
            "program_id",
            "left",
        )
        .select("program_id", "same_interface", F.coalesce("count", F.lit(0)).alias("inputs_joined"))
    )
    return inputs.select(F.col("keeper").alias("program_id"), F.col("ordered.input").alias("inputs")), joined


def candidate_edges(nodes: DataFrame) -> DataFrame:
    """Star edges (src, dst): every member of an LSH bucket to the bucket's smallest id.

    Buckets made only of existing programs were resolved by earlier runs and are skipped.
    """
    buckets = nodes.select("program_id", "existing", F.posexplode("band_keys").alias("band", "band_key"))
    roots = (
        buckets.groupBy("band", "band_key")
        .agg(
            F.min("program_id").alias("root"),
            F.count(F.lit(1)).alias("members"),
            F.min(F.col("existing").cast("int")).alias("all_existing"),
        )
        .where((F.col("members") > 1) & (F.col("all_existing") == 0))
    )
    return (
        buckets.join(roots, ["band", "band_key"])
        .where(F.col("program_id") != F.col("root"))
        .select(F.col("program_id").alias("src"), F.col("root").alias("dst"))
        .distinct()
    )


def verified_edges(edges: DataFrame, nodes: DataFrame, num_perm: int, min_jaccard: float) -> DataFrame:
    signatures = nodes.select("program_id", "signature")
    pairs = edges.join(
        signatures.withColumnRenamed("program_id", "src").withColumnRenamed("signature", "src_signature"),
        "src",
    ).join(
        signatures.withColumnRenamed("program_id", "dst").withColumnRenamed("signature", "dst_signature"),
        "dst",
    )
    scored = pairs.mapInArrow(
        partial(edge_similarities, num_perm=num_perm), from_arrow_schema(EDGE_ARROW_SCHEMA)
    )
    return scored.where(F.col("similarity") >= min_jaccard).select("src", "dst")


def connected_components(
    edges: DataFrame, lakehouse: Lakehouse, run_id: str, max_iterations: int
) -> Components:
    """Min-label propagation with pointer jumping; each round is staged (a checkpoint).

    Deterministic: a component's label is its smallest program_id. Stops when no label
    changes, or after ``max_iterations`` rounds (then ``converged`` is False and a
    component may still be split in several: fewer removals, never a wrong one).
    """
    neighbours = edges.select(F.col("src").alias("node"), F.col("dst").alias("neighbour")).unionByName(
        edges.select(F.col("dst").alias("node"), F.col("src").alias("neighbour"))
    )
    neighbours = lakehouse.stage(neighbours, "cc_neighbours", run_id)
    labels = neighbours.groupBy("node").agg(F.least(F.min("neighbour"), F.first("node")).alias("label"))
    labels = lakehouse.stage(labels, "cc_labels_0", run_id)
    for iteration in range(1, max_iterations + 1):
        offered = (
            neighbours.join(
                labels.withColumnRenamed("node", "neighbour").withColumnRenamed("label", "offer"), "neighbour"
            )
            .groupBy("node")
            .agg(F.min("offer").alias("offer"))
        )
        relabelled = labels.join(offered, "node").select("node", F.least("label", "offer").alias("label"))
        # pointer jumping: take the label of your label, halving chain lengths each round
        jumped = relabelled.join(
            relabelled.select(F.col("node").alias("label"), F.col("label").alias("jump")), "label", "left"
        ).select("node", F.least("label", F.coalesce("jump", "label")).alias("label"))
        updated = lakehouse.stage(jumped, f"cc_labels_{iteration}", run_id)
        changed = (
            updated.join(labels.withColumnRenamed("label", "previous"), "node")
            .where(F.col("label") != F.col("previous"))
            .count()
        )
        labels = updated
        if changed == 0:
            break
    # max_iterations >= 1 (config), so the loop ran and set iteration and changed
    result = labels.select(F.col("node").alias("program_id"), F.col("label").alias("component"))
    return Components(result, iteration, changed == 0)


def near_duplicates(components: DataFrame, nodes: DataFrame) -> DataFrame:
    """New programs that are not their component's keeper: program_id, keeper, size."""
    members = components.join(nodes.select("program_id", "existing", "n_inputs"), "program_id")
    ranked = (
        members.withColumnRenamed("component", "group")
        .withColumn("keeper", _keeper())
        .withColumn("size", F.count(F.lit(1)).over(Window.partitionBy("group")))
    )
    return ranked.where(~F.col("existing") & (F.col("program_id") != F.col("keeper"))).select(
        "program_id", "keeper", "size"
    )


def _rejects(df: DataFrame, reason: Column, detail: Column, keeper: Column, run_id: str) -> DataFrame:
    return df.select(
        "program_id",
        F.lit(STAGE).alias("stage"),
        reason.alias("reason"),
        detail.alias("detail"),
        F.lit(run_id).alias("run_id"),
        keeper.alias("keeper_id"),
    )


def reject_rows(filtered_out: DataFrame, exact: DataFrame, near: DataFrame, run_id: str) -> DataFrame:
    """silver/rejects rows: filter and decontamination reasons, then duplicates with their keeper
    (``keeper_id``; the detail says it again for people, and for an exact duplicate how many
    of its inputs joined the keeper's: ``exact`` has ``joined_inputs``' columns, null where
    the keeper was published by an earlier run)."""
    exact_detail = (
        F.when(F.col("same_interface").isNull(), F.lit(" (published earlier; inputs not joined)"))
        .when(~F.col("same_interface"), F.lit(" (other parameters; inputs not joined)"))
        .otherwise(F.format_string(" (%d of its inputs joined)", "inputs_joined"))
    )
    near_detail = F.concat(
        F.lit("near-duplicate of "),
        F.col("keeper"),
        F.lit(" (component of "),
        F.col("size").cast("string"),
        F.lit(" programs)"),
    )
    return (
        _rejects(
            filtered_out, F.col("reject_reason"), F.col("reject_detail"), F.lit(None).cast("string"), run_id
        )
        .unionByName(
            _rejects(
                exact,
                F.lit(DedupReason.EXACT_DUPLICATE.value),
                F.concat(F.lit("same normalised code as "), F.col("keeper"), exact_detail),
                F.col("keeper"),
                run_id,
            )
        )
        .unionByName(
            _rejects(near, F.lit(DedupReason.NEAR_DUPLICATE.value), near_detail, F.col("keeper"), run_id)
        )
    )


class DedupStage(Stage):
    name = STAGE
    reads = (BRONZE_SOURCES, SILVER_SIGNATURES)
    reads_detail = "unprocessed rows of bronze/sources"
    tally = Tally(
        kept="kept", kept_as="programs_kept", dropped_as="programs_dropped", total_as="programs_read"
    )
    writes = (SILVER_PROGRAMS, SILVER_SIGNATURES, SILVER_REJECTS)

    def resources(self) -> Resources:
        return Resources(cpus=0 if self.config.engine == "local" else 1)

    def plan(self, run: StageRun) -> None:
        settings, summary, lakehouse = self.config.dedup, run.summary, run.lakehouse
        require_table(lakehouse, BRONZE_SOURCES, "ingest")
        sources = unprocessed_sources(lakehouse)
        with run.step("counting new programs"):
            new_programs = sources.count()
        options = dedup_options(self.config, analysis_workers(self.config, new_programs))
        summary.notes |= {
            "LSH": f"{settings.bands} bands x {settings.rows} rows of {settings.num_perm} permutations, "
            f"{settings.shingle_size}-token shingles",
            "LSH threshold": f"~{lsh_threshold(settings.bands, settings.rows):.2f} Jaccard",
            "verification": f"estimated Jaccard >= {settings.min_jaccard}"
            if settings.verify_candidates
            else "off",
            "decontamination": f"{len(options.benchmarks):,} {settings.decontam_ngram}-grams and "
            f"{len(options.benchmarks.forms):,} code forms from {len(settings.benchmarks)} file(s)"
            if options.benchmarks is not None
            else "no benchmark files configured",
            "workers": f"{options.workers} process(es) for filters and signatures",
        }
        with run.step("filters, exact keys, MinHash signatures"):
            analysed = run.stage(analyse(sources, options), "dedup_analysed")
            outcome = (
                analysed.groupBy("rejected_by", "reject_reason")
                .agg(F.count(F.lit(1)).alias("programs"), *(F.sum(r).alias(r) for r in INPUT_DROP_COLUMNS))
                .collect()
            )
        # Restaged rather than only filtered: Sail 0.7 fails the NOT NULL check of a write
        # whose rows come from a scan filtered on IS [NOT] NULL, even with no null left.
        passing = run.stage(
            analysed.where(F.col("reject_reason").isNull()).drop(
                "reject_reason", "reject_detail", "rejected_by"
            ),
            "dedup_passing",
        )
        filtered_out = run.stage(
            analysed.where(F.col("reject_reason").isNotNull()).select(
                "program_id", "reject_reason", "reject_detail"
            ),
            "dedup_filtered_out",
        )
        rekeyed_count = 0
        if lakehouse.exists(SILVER_SIGNATURES):
            with run.step(f"re-keying signatures of an earlier key version (now {KEY_VERSION})"):
                rekeyed = rekeyed_signatures(lakehouse, options)
                if rekeyed is not None:
                    staged = run.stage(rekeyed, "dedup_rekeyed")
                    still_old = F.col("key_version") != KEY_VERSION
                    rekeyed_count = (
                        lakehouse.read(SILVER_SIGNATURES).where(still_old).count()
                        - staged.where(still_old).count()
                    )
                    lakehouse.replace(SILVER_SIGNATURES, staged)
        existing = (
            lakehouse.read(SILVER_SIGNATURES).join(analysed.select("program_id"), "program_id", "left_anti")
            if lakehouse.exists(SILVER_SIGNATURES)
            else None
        )
        existing_nodes = (
            existing.select("program_id", "exact_key", "band_keys", "signature")
            if existing is not None
            else run.spark.createDataFrame(
                [], "program_id string, exact_key string, band_keys array<bigint>, signature binary"
            )
        )
        with run.step("exact duplicates"):
            exact = run.stage(exact_duplicates(passing, existing_nodes), "dedup_exact")
        with run.step("inputs of exact duplicates joining their keepers'"):
            merged, joined = joined_inputs(passing, exact, self.config.filters.max_inputs)
            merged = run.stage(merged, "dedup_joined_inputs")
            exact = run.stage(exact.join(joined, "program_id", "left"), "dedup_exact_joined")
        # the passing programs that are not exact copies, with the inputs joined: near-dedup's new nodes
        distinct_code = (
            passing.join(exact.select("program_id"), "program_id", "left_anti")
            .join(merged.withColumnRenamed("inputs", "joined_inputs"), "program_id", "left")
            .withColumn("inputs", F.coalesce("joined_inputs", "inputs"))
            .drop("joined_inputs")
        )
        nodes = distinct_code.select(
            "program_id",
            "band_keys",
            "signature",
            F.size("inputs").alias("n_inputs"),
            F.lit(False).alias("existing"),
        ).unionByName(
            existing_nodes.select(
                "program_id",
                "band_keys",
                "signature",
                F.lit(0).alias("n_inputs"),
                F.lit(True).alias("existing"),
            )
        )
        with run.step("LSH candidate edges"):
            edges = candidate_edges(nodes)
            if settings.verify_candidates:
                edges = verified_edges(edges, nodes, settings.num_perm, settings.min_jaccard)
            edges = run.stage(edges, "dedup_edges")
        with run.step("connected components"):
            components = connected_components(edges, lakehouse, run.run_id, settings.max_iterations)
            near = run.stage(near_duplicates(components.labels, nodes), "dedup_near")

        keepers = distinct_code.join(near.select("program_id"), "program_id", "left_anti")
        program_rows = (
            lakehouse.read(BRONZE_SOURCES)
            .drop("inputs")
            .join(keepers.select("program_id", "inputs", *INPUT_DROP_COLUMNS, "exact_key"), "program_id")
            .withColumn("run_id", F.lit(run.run_id))
            .withColumn("rewrite_of", F.lit(None).cast("string"))  # originals; rewrites come later
            .withColumn("rewrite_kind", F.lit(None).cast("string"))
        )
        rejects = reject_rows(filtered_out, exact, near, run.run_id)
        # one outcome per program read: kept, or the reason it was dropped (the gate's rates)
        outcomes = rejects.select(F.col("reason").alias("outcome")).unionByName(
            keepers.select(F.lit("kept").alias("outcome"))
        )
        inputs_joined = exact.agg(F.sum("inputs_joined")).first()[0] or 0
        reused = existing.count() if existing is not None else 0
        _fill_summary(summary, outcome, edges.count(), components, reused)
        summary.counts["signatures_rekeyed"] = rekeyed_count
        summary.counts["inputs_joined_from_duplicates"] = inputs_joined
        with run.step("staging silver/signatures, silver/programs, silver/rejects"):
            # signatures first: a crash before the programs are published leaves them to be
            # redone by the next run, which ignores signatures of the programs it processes
            batch = run.write(
                [
                    (
                        SILVER_SIGNATURES,
                        keepers.select(
                            "program_id",
                            "exact_key",
                            "band_keys",
                            "signature",
                            F.lit(run.run_id).alias("run_id"),
                            F.lit(KEY_VERSION).cast("long").alias("key_version"),
                        ),
                    ),
                    (SILVER_PROGRAMS, program_rows),
                    (SILVER_REJECTS, rejects),
                ],
                outcomes,
            )
        for spec in (SILVER_PROGRAMS, SILVER_SIGNATURES, SILVER_REJECTS):
            summary.counts[f"{spec.name}_new"] = batch.rows(spec)
        summary.mix = run.mix(batch.staged(SILVER_PROGRAMS))
        with run.step("quality gate, then publishing"):
            run.publish(batch)


def _fill_summary(
    summary: StageSummary,
    outcome: list[Row],
    candidate_edges: int,
    components: Components,
    existing_count: int,
) -> None:
    """The counts of the filters, the signatures and the components (the outcomes of the
    programs read are the runner's to count)."""
    drops = {r: sum(row[r] or 0 for row in outcome) for r in INPUT_DROP_COLUMNS}
    rejected_by = {name: 0 for name in FILTER_NAMES}
    for row in outcome:
        if row["rejected_by"] is not None:
            rejected_by[row["rejected_by"]] += row["programs"]
    summary.counts |= {
        "passed_filters": sum(row["programs"] for row in outcome if row["reject_reason"] is None),
        **{f"filter_{name}_rejected": n for name, n in rejected_by.items()},
        "signatures_reused": existing_count,
        "candidate_edges": candidate_edges,
        "components_rounds": components.iterations,
        **{f"inputs_dropped_{r.removeprefix('input_')}": n for r, n in drops.items()},
    }
    if not components.converged:
        summary.notes["components"] = (
            f"not converged after {components.iterations} rounds (raise dedup.max_iterations)"
        )
