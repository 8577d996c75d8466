"""Phrase banks for the synthetic demo incidents that labeling.demo assembles.

Every subcategory of the default taxonomy has its own stories (titles, symptom, cause, fix),
signals, follow-ups and tags, and every detection and mitigation option its own paragraphs, so the text of a
demo incident carries the signal of its labels: the embeddings and suggestions built on top
of the demo data can learn categories from it the way they would from real postmortems.
Slots in braces are filled by labeling.demo from one dictionary per incident.
"""

# The slots a template may use; labeling.demo fills every one of them for every incident.
SLOTS = (
    "service", "model", "region", "endpoint", "engine", "gpu", "code", "pct", "duration", "ttd", "ttm",
    "p99", "baseline", "nodes", "replicas", "version", "prev_version", "dependency", "timeout_s", "ctx",
    "cluster", "flag", "qps", "customers", "start_hm", "mitigated_hm", "signal", "fix", "symptom",
    "cause_short", "change", "mitigation_short",
)  # fmt: skip

SERVICES = {
    # service: (modalities it serves, endpoints it exposes)
    "chat-api": (("text", "multimodal"), ("/v1/chat/completions",)),
    "completions-api": (("text",), ("/v1/completions",)),
    "embeddings-api": (("embedding",), ("/v1/embeddings",)),
    "batch-inference": (("text", "embedding"), ("/v1/batches", "/v1/files")),
    "image-gen": (("image",), ("/v1/images/generations", "/v1/images/edits")),
    "speech-api": (("audio",), ("/v1/audio/transcriptions", "/v1/audio/speech")),
    "model-router": (("text", "multimodal"), ("/v1/chat/completions", "/v1/responses")),
    "assistants-api": (("text", "multimodal"), ("/v1/assistants", "/v1/threads/runs")),
    "realtime-api": (("audio", "multimodal"), ("/v1/realtime",)),
    "moderation-api": (("text",), ("/v1/moderations",)),
    "rerank-api": (("embedding",), ("/v1/rerank",)),
    "fine-tuning-api": (("text",), ("/v1/fine_tuning/jobs",)),
    "vision-api": (("multimodal", "image"), ("/v1/chat/completions", "/v1/vision/describe")),
}

MODELS = {
    "text": (
        "llama-3.1-70b-instruct", "llama-3.1-8b-instruct", "llama-3.3-70b-instruct", "mixtral-8x22b-instruct",
        "qwen2.5-72b-instruct", "qwen2.5-coder-32b", "mistral-large-2", "deepseek-v3", "gemma-2-27b-it",
        "atlas-large-v4", "atlas-mini-v3", "atlas-code-v2",
    ),
    "embedding": ("bge-large-en-v1.5", "e5-mistral-7b", "gte-qwen2-7b", "atlas-embed-v2", "nomic-embed-text-v1.5"),
    "image": ("sdxl-1.0", "flux-1-dev", "flux-1-schnell", "atlas-image-v2"),
    "audio": ("whisper-large-v3", "whisper-large-v3-turbo", "atlas-tts-v1", "atlas-voice-v2"),
    "multimodal": ("llava-1.6-34b", "qwen2-vl-72b", "pixtral-12b", "atlas-vision-v1", "llama-3.2-90b-vision"),
}  # fmt: skip

REGIONS = (
    "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-southeast-1",
    "ap-northeast-1", "ap-south-1", "ca-central-1", "sa-east-1",
)  # fmt: skip
ENGINES = ("vLLM", "TensorRT-LLM", "TGI", "SGLang", "Triton")
GPUS = ("H100", "H200", "A100-80GB", "L40S", "A10G")
CLUSTERS = ("gpu-pool-a", "gpu-pool-b", "gpu-pool-c", "serving-east-2", "serving-west-1", "inference-large")
DEPENDENCIES = (
    "the object store that holds model weights", "the Redis rate-limit cache", "the Postgres metadata database",
    "the authentication service", "the billing usage pipeline", "the feature-flag service",
    "the upstream cloud provider's block storage", "the internal service mesh control plane",
)  # fmt: skip
FLAGS = ("chunked_prefill", "speculative_decoding", "prefix_caching", "fp8_kv_cache", "async_scheduling", "new_router")
CHANGES = (
    "an engine upgrade", "a new autoscaling policy", "a load balancer configuration push", "a driver update",
    "a sampling defaults change", "a tokenizer package bump", "a router weights update", "a quota change",
)  # fmt: skip
HTTP_CODES = ("500", "502", "503", "504", "429")

# Per subcategory: titles that fit any of its incidents, and "stories": one coherent account
# each (titles, symptom, short and long cause, fix), so a postmortem never mixes the cause of
# one story with the fix of another. Shared: the signal that shows it, follow-ups and tags.
SUBCATEGORY_TEXT = {
    "timeout": {
        "titles": (
            "Requests to {service} timing out in {region}",
            "Elevated {code} gateway timeouts on {endpoint}",
            "{model} requests hang until the {timeout_s}s gateway deadline",
        ),
        "stories": (
            {
                "titles": ("Long-context {model} requests time out in {region}",),
                "symptom": "requests timing out before the first token",
                "cause_short": "long prompts starved the decode loop until requests exceeded their deadline",
                "cause": "A burst of prompts longer than {ctx} tokens arrived at once. The {engine} scheduler ran "
                "their prefill without chunking, which blocked decode steps for every other sequence on the "
                "replica. Requests queued behind them waited past the {timeout_s}s gateway deadline and were "
                "cut off.",
                "fix": "enabling chunked prefill with a {ctx}-token budget per step",
            },
            {
                "titles": ("{engine} workers stop responding to {model} requests",),
                "symptom": "streaming responses that stall and hit the gateway deadline",
                "cause_short": "a scheduler deadlock left engine workers holding requests without progress",
                "cause": "A race in the {engine} {version} scheduler could leave a worker waiting on a sequence "
                "group that had already been freed. Affected workers accepted new requests but never scheduled "
                "them, so those requests hung until the gateway timed them out after {timeout_s}s.",
                "fix": "a scheduler patch that releases freed sequence groups",
            },
            {
                "titles": ("Retry storm causes request timeouts on {service}",),
                "symptom": "a rising share of requests ending in deadline-exceeded errors",
                "cause_short": "a retry storm filled the request queue so new requests waited past the timeout",
                "cause": "A slow dependency made a fraction of requests fail, and clients retried with no "
                "backoff. The retries tripled the queue depth on {cluster}, and requests spent longer in the "
                "queue than the {timeout_s}s deadline allows, so they timed out without reaching the engine.",
                "fix": "a queue admission limit and jittered client backoff",
            },
        ),
        "signal": ("gateway timeout rate", "request deadline-exceeded count", "time-to-first-token SLO burn rate"),
        "followups": (
            "Add a per-replica watchdog that restarts workers with no scheduling progress for 60 s.",
            "Reject prompts above the prefill budget early instead of letting them time out.",
            "Alert on queue wait time, not only on end-to-end latency.",
            "Add exponential backoff with jitter to the official client libraries.",
            "Load-test long-context traffic mixes before every engine upgrade.",
        ),
        "tags": ("timeout", "gateway", "scheduler", "long-context", "queueing"),
    },
    "resource_exhaustion": {
        "titles": (
            "{service} returns {code} as serving capacity runs out",
            "Capacity errors for {model} in {region}",
        ),
        "stories": (
            {
                "titles": (
                    "KV-cache exhaustion causes request rejections on {service}",
                    "Preemption storm on {cluster} as KV cache fills up",
                ),
                "symptom": "a sharp rise in KV-cache preemptions and rejected requests",
                "cause_short": "the KV cache ran out of blocks and the engine started preempting and rejecting "
                "requests",
                "cause": "Average output length for {model} grew after a prompt change by a large customer, and "
                "each sequence held KV-cache blocks for longer. Cache utilisation on {gpu} replicas reached 100%, "
                "the engine preempted running sequences and recomputed them, and new requests were rejected "
                "with {code} once the waiting queue was full.",
                "fix": "lowering max concurrent sequences per replica",
            },
            {
                "titles": (
                    "CUDA out-of-memory errors on {gpu} nodes serving {model}",
                    "{model} replicas out of GPU memory in {region}",
                ),
                "symptom": "CUDA out-of-memory errors on serving replicas",
                "cause_short": "the engine reserved too little GPU memory headroom and replicas ran out of memory",
                "cause": "The {engine} {version} memory profiler reserved too little headroom for activation "
                "memory at the larger batch size we enabled. Under peak load replicas hit CUDA out-of-memory "
                "errors, dropped their in-flight batch and took minutes to warm up again.",
                "fix": "raising the GPU memory headroom reserved for activations",
            },
            {
                "titles": ("Serving capacity for {model} exhausted at daily peak",),
                "symptom": "requests rejected with capacity errors at peak",
                "cause_short": "serving capacity for {model} was too small for the traffic it received",
                "cause": "Traffic to {model} in {region} grew by {pct}% in a week while the replica count stayed "
                "the same. At the daily peak every replica was saturated, so the router had nowhere to place new "
                "requests and returned capacity errors.",
                "fix": "a cap on max output tokens for the free tier",
            },
        ),
        "signal": ("KV-cache utilisation", "GPU memory saturation", "capacity rejection rate"),
        "followups": (
            "Alert at 90% KV-cache utilisation sustained for five minutes.",
            "Forecast capacity per model weekly and review it with the product teams.",
            "Make the memory headroom a per-model setting checked at start-up.",
            "Shed low-priority batch traffic before interactive traffic when the cache is full.",
        ),
        "tags": ("oom", "kv-cache", "gpu-memory", "capacity", "preemption"),
    },
    "crash": {
        "titles": (
            "{service} replicas restart repeatedly in {region}",
            "{engine} processes crash-looping on {cluster}",
        ),
        "stories": (
            {
                "titles": ("Illegal memory access crashes {model} replicas",),
                "symptom": "replicas exiting with CUDA illegal memory access errors",
                "cause_short": "a kernel bug in {engine} {version} crashed workers on a rare batch shape",
                "cause": "{engine} {version} shipped a fused attention kernel that reads out of bounds when a "
                "batch mixes very short and very long sequences. The resulting CUDA illegal memory access killed "
                "the process; the orchestrator restarted it, the next such batch killed it again, and {replicas} "
                "replicas spent most of the incident crash-looping.",
                "fix": "a patched attention kernel with a bounds check",
            },
            {
                "titles": ("Malformed requests crash serving workers for {model}",),
                "symptom": "serving processes crashing and restarting in a loop",
                "cause_short": "a malformed request triggered an unhandled exception that killed the engine process",
                "cause": "Requests with an empty message list passed validation and reached the engine, where an "
                "unhandled exception in the input processor terminated the worker. A client retrying the same "
                "request in a loop crashed replica after replica across {region}.",
                "fix": "input validation that rejects empty message lists at the gateway",
            },
            {
                "titles": ("NCCL errors kill tensor-parallel workers serving {model}",),
                "symptom": "tensor-parallel workers dying with NCCL errors",
                "cause_short": "a communication timeout between tensor-parallel ranks aborted whole replicas",
                "cause": "One GPU on a tensor-parallel group stalled, the other ranks hit the NCCL watchdog "
                "timeout and aborted, and because the replica is a single process group the whole replica went "
                "down. Restarts loaded weights for several minutes each, so capacity dropped sharply.",
                "fix": "an NCCL timeout and restart policy that isolates the failed rank",
            },
        ),
        "signal": ("replica restart count", "crash-loop backoff events", "healthy replica ratio"),
        "followups": (
            "Fuzz the engine with mixed batch shapes in CI before an upgrade ships.",
            "Validate request bodies fully at the gateway, before they reach the engine.",
            "Alert when more than two replicas restart within ten minutes.",
            "Keep a warm standby replica per model to cover restarts.",
        ),
        "tags": ("crash", "segfault", "cuda", "nccl", "restart-loop"),
    },
    "latency_spike": {
        "titles": (
            "p99 latency on {service} up to {p99}s in {region}",
            "{service} responses slow in {region}",
        ),
        "stories": (
            {
                "titles": ("Time to first token degraded for {model}",),
                "symptom": "p99 time to first token rising from {baseline}s to {p99}s",
                "cause_short": "prefix caching was silently disabled, so every prompt was recomputed from scratch",
                "cause": "A configuration refactor dropped the prefix caching setting for {model}. Requests still "
                "succeeded, but every prompt paid full prefill cost, and p99 time to first token rose from "
                "{baseline}s to {p99}s during the busiest hours.",
                "fix": "restoring the prefix caching setting",
            },
            {
                "titles": ("Batch workload slows interactive traffic on {endpoint}",),
                "symptom": "slow but successful responses across {service}",
                "cause_short": "a noisy batch workload shared replicas with interactive traffic",
                "cause": "A customer's offline evaluation job was routed to the interactive pool instead of the "
                "batch pool. Its large batches occupied the replicas' compute, and interactive requests in "
                "{region} waited behind them, pushing p99 latency to {p99}s.",
                "fix": "a routing rule that pins batch traffic to the batch pool",
            },
            {
                "titles": ("Slow token generation for {model} on throttled hosts",),
                "symptom": "token throughput dropping by half while requests still succeed",
                "cause_short": "thermal throttling on a batch of {gpu} hosts reduced generation speed",
                "cause": "A cooling fault in one data hall made {nodes} {gpu} hosts throttle their clocks. The "
                "router kept sending them an equal share of traffic, so generation on those hosts ran at half "
                "speed and the tail latency of the whole service rose to {p99}s.",
                "fix": "a latency-aware routing weight that drains slow hosts",
            },
        ),
        "signal": ("p99 latency SLO burn rate", "time-to-first-token percentile", "tokens-per-second throughput"),
        "followups": (
            "Diff the rendered engine configuration in every deploy and flag dropped settings.",
            "Keep batch and interactive traffic on separate pools by policy, not by convention.",
            "Feed per-host latency into the router's weights.",
            "Add a canary that measures time to first token against a fixed prompt set.",
        ),
        "tags": ("latency", "ttft", "throughput", "slo", "performance"),
    },
    "error_rate": {
        "titles": (
            "Elevated {code} errors on {endpoint}",
            "Increased error rate for {service} in {region}",
            "{pct}% of {model} requests failing",
        ),
        "stories": (
            {
                "titles": ("Failed LoRA adapter loads cause {code} errors on {service}",),
                "symptom": "an elevated rate of {code} responses",
                "cause_short": "a subset of replicas returned {code} after failing to load LoRA adapters",
                "cause": "After {change}, replicas that started on {cluster} could not load the LoRA adapters some "
                "customers use and answered those requests with {code}. Base-model requests succeeded, so health "
                "checks stayed green while {pct}% of all requests failed.",
                "fix": "a patch that retries adapter loading and removes replicas that fail it",
            },
            {
                "titles": ("Streaming generations for {model} abort mid-response",),
                "symptom": "intermittent failed generations for {model}",
                "cause_short": "a bug in stop-sequence handling raised errors mid-generation",
                "cause": "{engine} {version} raised an exception when a stop sequence spanned two detokenised "
                "chunks. The request was aborted mid-generation and the client received {code}; about {pct}% of "
                "streaming requests to {model} were affected.",
                "fix": "a fix to the stop-sequence matcher",
            },
            {
                "titles": ("Intermittent {code} responses from {service}",),
                "symptom": "{pct}% of requests to {endpoint} returning errors",
                "cause_short": "a health check passed while the generation path was failing",
                "cause": "The engine's health endpoint only checked that the process was alive. A replica whose "
                "generation path failed on every request stayed in rotation, and the error rate of {service} in "
                "{region} settled at {pct}%.",
                "fix": "a deep health check that runs a real generation",
            },
        ),
        "signal": ("5xx error rate", "failed generation ratio", "availability SLO burn rate"),
        "followups": (
            "Make the health check run a one-token generation.",
            "Break error-rate dashboards down by adapter and model, not only by service.",
            "Add stop-sequence edge cases to the engine regression suite.",
            "Page on error budget burn per model, not per service.",
        ),
        "tags": ("5xx", "errors", "availability", "health-check", "lora"),
    },
    "node_or_gpu_failure": {
        "titles": (
            "GPU failures on {cluster} reduce capacity for {model}",
            "Host failures in {region} take {service} replicas offline",
        ),
        "stories": (
            {
                "titles": ("ECC errors force eviction of {model} replicas", "Xid errors on {gpu} nodes"),
                "symptom": "replicas dropping out as GPUs report Xid errors",
                "cause_short": "{nodes} {gpu} GPUs fell off the bus after uncorrectable ECC errors",
                "cause": "{nodes} {gpu} GPUs in {cluster} reported uncorrectable ECC errors and Xid 79 within an "
                "hour, and the driver took them off the bus. Every replica that had a rank on those GPUs failed, "
                "and the remaining capacity for {model} could not absorb the traffic.",
                "fix": "cordoning the failed nodes and rescheduling their replicas",
            },
            {
                "titles": ("Top-of-rack switch failure isolates inference hosts in {region}",),
                "symptom": "a cluster of nodes failing health checks at once",
                "cause_short": "a faulty top-of-rack switch isolated {nodes} hosts",
                "cause": "A top-of-rack switch in {region} failed and its {nodes} hosts lost their network. The "
                "scheduler marked them unhealthy only after its default five-minute timeout, so requests kept "
                "being routed to replicas that could not answer.",
                "fix": "a shorter node-unhealthy timeout in the scheduler",
            },
            {
                "titles": ("{gpu} GPUs hang after firmware update on {cluster}",),
                "symptom": "serving capacity falling as hosts go unhealthy one by one",
                "cause_short": "a firmware bug made {gpu} GPUs hang under sustained load",
                "cause": "A GPU firmware version rolled out to {cluster} makes {gpu} GPUs hang after a few hours "
                "of sustained load. Nodes dropped one by one, and by the time the pattern was clear {nodes} nodes "
                "were out of service.",
                "fix": "a firmware downgrade on the affected hosts",
            },
        ),
        "signal": ("GPU Xid error count", "node health check failures", "available replica count"),
        "followups": (
            "Automate cordon and drain on the first uncorrectable ECC error.",
            "Spread replica ranks across racks so one switch cannot take a replica down.",
            "Stage GPU firmware updates over a week with a canary pool.",
            "Keep 10% spare GPU capacity per cluster for failures.",
        ),
        "tags": ("gpu", "hardware", "xid", "ecc", "node-failure"),
    },
    "network": {
        "titles": (
            "Network errors between clients and {service} in {region}",
            "Connection failures on {endpoint}",
        ),
        "stories": (
            {
                "titles": ("DNS resolution failures for {service} in {region}",),
                "symptom": "connection failures and DNS errors for part of the clients",
                "cause_short": "a wrong DNS record sent clients to a decommissioned load balancer",
                "cause": "A DNS record for the {region} entry point had a TTL mistake after a migration and "
                "resolved, for part of the clients, to a decommissioned load balancer. Those clients saw "
                "connection failures while others were served normally.",
                "fix": "correcting the DNS record and flushing resolver caches",
            },
            {
                "titles": ("Load balancer marks healthy {service} backends down",),
                "symptom": "{code} errors as the load balancer removed backends",
                "cause_short": "a load balancer health check misconfiguration removed healthy backends",
                "cause": "The load balancer in front of {service} was reconfigured with a health check path that "
                "the backends did not serve. Healthy backends were marked down one after another until the "
                "remaining ones were overloaded and started returning {code}.",
                "fix": "restoring the load balancer health check path",
            },
            {
                "titles": ("Packet loss between gateway and inference cluster in {region}",),
                "symptom": "packet loss between the gateway and the inference cluster",
                "cause_short": "packet loss on a cross-region link slowed every request routed over it",
                "cause": "An optical link between {region} and the neighbouring region degraded and dropped "
                "packets. Traffic that the gateway sent across it for {model} retransmitted heavily, and requests "
                "took several times longer than usual or failed with connection resets.",
                "fix": "moving cross-region traffic off the degraded link",
            },
        ),
        "signal": ("DNS resolution failures", "load balancer healthy host count", "packet loss between zones"),
        "followups": (
            "Check DNS records against the inventory of live load balancers daily.",
            "Validate load balancer health check paths in CI against the service's routes.",
            "Alert on retransmission rates between regions.",
            "Document a runbook for moving traffic off a degraded network path.",
        ),
        "tags": ("network", "dns", "load-balancer", "tls", "packet-loss"),
    },
    "capacity_allocation": {
        "titles": (
            "{service} under-provisioned in {region}",
            "New replicas for {model} stuck pending",
        ),
        "stories": (
            {
                "titles": ("Quota limit blocks new replicas for {model}",),
                "symptom": "the autoscaler failing to add capacity as traffic grew",
                "cause_short": "the GPU quota for the project was exhausted, so the autoscaler could not add nodes",
                "cause": "Traffic for {model} rose ahead of the evening peak and the autoscaler asked for {nodes} "
                "new {gpu} nodes. The project's GPU quota in {region} had been used by a training job the week "
                "before, so every request was denied and the serving pool stayed at its morning size.",
                "fix": "a quota increase and a reservation for serving",
            },
            {
                "titles": ("Scheduler fails to place multi-GPU replicas on {cluster}",),
                "symptom": "replicas stuck pending while traffic grew",
                "cause_short": "the cluster scheduler could not fit multi-GPU pods on fragmented nodes",
                "cause": "Replicas of {model} need eight GPUs on one host. After a week of small jobs on {cluster} "
                "no host had eight free GPUs, so new replicas stayed pending while the scheduler reported plenty "
                "of free GPUs in total.",
                "fix": "defragmenting the node pool and reserving whole hosts for large replicas",
            },
            {
                "titles": ("Autoscaler stuck, {service} short of capacity",),
                "symptom": "queues growing while the autoscaler stayed idle",
                "cause_short": "the autoscaler's metrics source went stale and it stopped scaling",
                "cause": "The autoscaler reads queue depth from a metrics endpoint that stopped updating after a "
                "certificate rotation. It saw a flat queue, did not scale, and {service} ran short of replicas "
                "for the whole peak.",
                "fix": "restoring the autoscaler's metrics feed",
            },
        ),
        "signal": ("pending replica count", "autoscaler scale-up failures", "queue depth per replica"),
        "followups": (
            "Reserve serving GPU quota separately from training quota.",
            "Alert when replicas stay pending for more than ten minutes.",
            "Make the autoscaler fail loudly when its metrics are stale.",
            "Bin-pack multi-GPU replicas with a dedicated node pool.",
        ),
        "tags": ("capacity", "autoscaler", "quota", "scheduler", "scaling"),
    },
    "deployment_misconfiguration": {
        "titles": (
            "Infrastructure rollout leaves {service} half available",
            "Deployment error takes {model} replicas down in {region}",
        ),
        "stories": (
            {
                "titles": ("Misconfigured memory limits kill {model} pods",),
                "symptom": "pods OOM-killed right after a deployment",
                "cause_short": "a Helm values change set the memory limit below what the engine needs",
                "cause": "A refactor of the Helm chart for {service} moved resource limits into a shared values "
                "file, and the memory limit for {model} pods became a quarter of what the engine uses while "
                "loading weights. Pods were OOM-killed during start-up as the rollout replaced old replicas.",
                "fix": "restoring the memory limits in the Helm values",
            },
            {
                "titles": ("New {service} replicas start with staging settings",),
                "symptom": "replicas starting with the wrong environment and never becoming ready",
                "cause_short": "a deployment template pointed replicas at the staging environment",
                "cause": "An infrastructure change rendered the deployment template with the staging environment "
                "file. New replicas in {region} started with staging credentials and could not reach the "
                "production model registry, so they never became ready.",
                "fix": "re-rendering the deployment with the production environment file",
            },
            {
                "titles": ("Rollout sets wrong GPU count for {model}",),
                "symptom": "replicas failing at start-up after a routine rollout",
                "cause_short": "the rollout gave replicas four GPUs instead of eight, so they could not load the model",
                "cause": "The node selector for {model} changed in a routine infrastructure rollout, and replicas "
                "were scheduled with four GPUs instead of eight. Tensor parallelism failed at start-up and "
                "capacity shrank as old replicas were replaced.",
                "fix": "restoring the node selector and GPU request",
            },
        ),
        "signal": ("pod eviction count", "ready replica ratio after deploy", "deployment progress deadline"),
        "followups": (
            "Render and diff manifests for every environment in CI.",
            "Block rollouts that change resource requests without a second reviewer.",
            "Make the rollout pause automatically when ready replicas drop below 80%.",
            "Check environment names inside the container at start-up.",
        ),
        "tags": ("deploy", "kubernetes", "helm", "config", "rollout"),
    },
    "dependency": {
        "titles": (
            "{service} errors caused by a failing dependency",
            "Upstream failure degrades {service} in {region}",
        ),
        "stories": (
            {
                "titles": ("Outage of {dependency} degrades {service}",),
                "symptom": "requests failing on calls to {dependency}",
                "cause_short": "{dependency} became unavailable and requests that depend on it failed",
                "cause": "{service} checks API keys and rate limits against {dependency} on every request. That "
                "system became unavailable in {region}, and the gateway, which fails closed, rejected requests "
                "with {code} for as long as the dependency was down.",
                "fix": "a cached fallback for {dependency}",
            },
            {
                "titles": ("Metadata database failover breaks {service} requests",),
                "symptom": "requests failing on stale database connections",
                "cause_short": "a failover of the metadata database left connections pointing at the old primary",
                "cause": "A planned failover of the metadata database completed, but the connection pool in "
                "{service} kept connections to the old primary open. Requests that needed metadata failed until "
                "the pools were recycled.",
                "fix": "recycling the connection pools to the new primary",
            },
            {
                "titles": ("Model weight downloads fail, new {model} replicas cannot start",),
                "symptom": "replicas unable to start because weights could not be fetched",
                "cause_short": "the cloud provider's storage degraded in {region}",
                "cause": "The upstream cloud provider had a storage incident in {region}. New replicas of {model} "
                "could not download their weights and crash-looped, while existing replicas kept serving a "
                "shrinking share of the traffic.",
                "fix": "serving weights from the secondary region's bucket",
            },
        ),
        "signal": ("dependency error rate", "upstream call latency", "replica start-up failures"),
        "followups": (
            "Cache the answers of {dependency} so the gateway can serve for a while without it.",
            "Mirror model weights to a second region and fall back automatically.",
            "Make connection pools validate the primary after a failover.",
            "Subscribe the on-call channel to the provider's status feed.",
        ),
        "tags": ("dependency", "upstream", "storage", "database", "provider"),
    },
    "header_or_parameter_misconfiguration": {
        "titles": (
            "Requests to {model} fail on parameter validation",
            "Parameter handling regression on {endpoint}",
        ),
        "stories": (
            {
                "titles": ("Requests to {model} rejected over max_tokens limit",),
                "symptom": "valid long requests rejected with parameter errors",
                "cause_short": "the model config set max context to half its real value",
                "cause": "The serving config for {model} was regenerated with a max context of half its real "
                "size. Requests whose prompt plus max_tokens exceeded the wrong limit were rejected with 400, "
                "which hit customers with long documents hardest.",
                "fix": "restoring the correct max context in the model config",
            },
            {
                "titles": ("Wrong sampling parameters applied on {endpoint}",),
                "symptom": "responses generated with the wrong sampling settings",
                "cause_short": "default sampling parameters were applied instead of the caller's values",
                "cause": "A change to request parsing dropped the caller's temperature and top_p whenever the "
                "request also set a seed, so those requests were sampled with defaults. Outputs became less "
                "deterministic and some customers' evaluations failed.",
                "fix": "a parser fix that keeps caller sampling parameters",
            },
            {
                "titles": ("{service} rejects SDK requests after header change",),
                "symptom": "SDK requests failing with 400 after a header change",
                "cause_short": "a required version header was renamed in the gateway but not in the SDKs",
                "cause": "The gateway began requiring a renamed version header for {endpoint}. The official SDKs "
                "still sent the old name, so their requests were refused with 400 until the gateway accepted both "
                "names again.",
                "fix": "accepting both header names at the gateway",
            },
        ),
        "signal": ("4xx rate per model", "parameter validation errors", "contract test failures"),
        "followups": (
            "Generate model configs from the model card and check them against it in CI.",
            "Add contract tests for every public request parameter.",
            "Keep deprecated header names working for a full deprecation window.",
            "Alert on 4xx rates per model as well as 5xx.",
        ),
        "tags": ("parameters", "headers", "config", "max-tokens", "sampling"),
    },
    "invalid_output": {
        "titles": (
            "Bad outputs from {model} on {service}",
            "{model} returns invalid responses in {region}",
        ),
        "stories": (
            {
                "titles": ("{model} returns empty or truncated responses",),
                "symptom": "empty or truncated completions with a normal finish reason",
                "cause_short": "a stop-token mismatch ended generations after a few tokens",
                "cause": "The generation config for {model} listed the end-of-turn token as a stop token twice "
                "with different ids, and one of them matched a common token. Many completions stopped after a few "
                "tokens and returned almost empty responses with a normal finish reason.",
                "fix": "correcting the stop-token ids in the generation config",
            },
            {
                "titles": ("Malformed JSON from {model} in structured output mode",),
                "symptom": "structured output that does not parse as JSON",
                "cause_short": "guided decoding was not applied, so JSON mode produced free text",
                "cause": "Guided decoding for structured outputs was disabled by a feature-flag rollout. Requests "
                "in JSON mode were sampled freely, and {pct}% of them returned text that did not parse.",
                "fix": "re-enabling guided decoding for JSON mode",
            },
            {
                "titles": ("Repetitive nonsensical output from {model}",),
                "symptom": "repetitive or garbled text in successful responses",
                "cause_short": "a numerics bug in the fp8 path produced degenerate outputs",
                "cause": "An fp8 kernel used for {model} on {gpu} overflowed on large activations. Affected "
                "outputs degenerated into repeated tokens or garbled text while requests still returned 200.",
                "fix": "switching {model} back to bf16 kernels",
            },
        ),
        "signal": ("output quality canary", "empty response ratio", "JSON parse failure rate"),
        "followups": (
            "Run a golden-output canary on every model after each deploy.",
            "Track empty and truncated response rates per model.",
            "Check structured output validity in the synthetic probes.",
            "Gate numerics changes on an evaluation suite, not only on unit tests.",
        ),
        "tags": ("output-quality", "truncation", "json-mode", "garbled-output", "canary"),
    },
    "encoding_decoding": {
        "titles": (
            "Text corruption in {service} responses",
            "Encoding errors for {model} in {region}",
        ),
        "stories": (
            {
                "titles": ("Tokenizer mismatch corrupts {model} outputs",),
                "symptom": "garbled outputs for non-English prompts",
                "cause_short": "the serving image shipped a tokenizer that does not match the model's vocabulary",
                "cause": "The serving image for {model} picked up a newer tokenizer package whose vocabulary "
                "differs for a few thousand merged tokens. Prompts were encoded with ids the model was not "
                "trained on, and outputs for non-English text became garbled.",
                "fix": "pinning the tokenizer version to the model's release",
            },
            {
                "titles": ("Unicode characters garbled in streamed {service} responses",),
                "symptom": "replacement characters in streamed responses",
                "cause_short": "the streaming detokenizer split multi-byte characters across chunks",
                "cause": "The streaming path of {service} decoded each token separately. Characters that span "
                "several tokens, common in CJK text and emoji, were emitted as replacement characters.",
                "fix": "incremental detokenization that buffers partial characters",
            },
            {
                "titles": ("Input normalisation changes prompts for {model}",),
                "symptom": "prompts in several scripts tokenized differently than before",
                "cause_short": "a normalisation step stripped characters before tokenization",
                "cause": "A new input normalisation step applied NFKC and removed zero-width joiners before "
                "tokenization, which changed the meaning of prompts in several scripts and broke a customer's "
                "exact-match tests.",
                "fix": "removing the normalisation step from the input path",
            },
        ),
        "signal": ("replacement character rate", "tokenizer round-trip check", "per-language error rate"),
        "followups": (
            "Pin tokenizer versions with the model weights and verify the hash at start-up.",
            "Add multilingual round-trip tests to the serving CI.",
            "Monitor the share of replacement characters in outputs.",
        ),
        "tags": ("tokenizer", "unicode", "encoding", "detokenization", "multilingual"),
    },
    "model_deployment": {
        "titles": (
            "Wrong {model} version served after rollout",
            "Inconsistent answers from {model} across regions",
        ),
        "stories": (
            {
                "titles": ("Model alias points to an unevaluated {model} checkpoint",),
                "symptom": "quality regressions after a model rollout",
                "cause_short": "the model alias was updated to a checkpoint that had not passed evaluation",
                "cause": "A release script updated the public alias of {model} to a checkpoint that was still in "
                "evaluation. For the duration of the incident customers using the alias got answers from a model "
                "with known regressions.",
                "fix": "pointing the alias back at the released checkpoint",
            },
            {
                "titles": ("Stale weights loaded for {model} in {region}",),
                "symptom": "answers from the previous model version in one region",
                "cause_short": "replicas in {region} loaded stale weights from a cached path",
                "cause": "Replicas in {region} loaded weights from a node-local cache that still held the previous "
                "checkpoint. The region served {prev_version} while the others served {version}, and customers "
                "saw inconsistent answers depending on where they landed.",
                "fix": "clearing the weight cache and reloading the released weights",
            },
            {
                "titles": ("Router sends production traffic to a canary {model} deployment",),
                "symptom": "traffic routed to an unreleased checkpoint",
                "cause_short": "a router rule sent production traffic to a canary deployment",
                "cause": "A routing rule meant for internal testing matched production traffic and sent {pct}% of "
                "requests for {model} to a canary deployment with different weights.",
                "fix": "removing the canary routing rule",
            },
        ),
        "signal": ("model version mismatch check", "evaluation canary score", "routing rule audit"),
        "followups": (
            "Allow alias changes only for checkpoints with a signed evaluation report.",
            "Verify the weight hash at load time against the model registry.",
            "Scope test routing rules to internal API keys.",
        ),
        "tags": ("model-rollout", "weights", "routing", "versioning", "alias"),
    },
    "detection_gap": {
        "titles": (
            "{service} degraded for hours without an alert",
            "Unmonitored failure on {endpoint}",
        ),
        "stories": (
            {
                "titles": ("No monitoring on {model} streaming path",),
                "symptom": "streaming responses failing after the first chunk",
                "cause_short": "the probes only exercised non-streaming requests, so the failure ran unseen",
                "cause": "Streaming requests to {model} failed after the first chunk, but our probes only send "
                "non-streaming requests and the error metric counts the status code sent before streaming "
                "starts. Nothing we measured changed, so the failure ran unseen.",
                "fix": "a streaming probe for {model}",
            },
            {
                "titles": ("Silent failure of {endpoint} went unnoticed",),
                "symptom": "{code} errors on {endpoint}",
                "cause_short": "the error metric excluded the affected endpoint",
                "cause": "The endpoint {endpoint} was added to the gateway after the alerting rules were written, "
                "and its errors were not part of any SLO. It returned {code} for {pct}% of requests for hours "
                "before anyone looked.",
                "fix": "adding the endpoint to the error-rate SLO",
            },
        ),
        "signal": ("synthetic probe coverage", "SLO coverage report"),
        "followups": (
            "Add streaming requests to the synthetic probes.",
            "Generate SLOs from the gateway's route table so new endpoints are covered by default.",
            "Review monitoring coverage in every launch checklist.",
        ),
        "tags": ("monitoring", "observability", "detection", "probes", "slo"),
    },
    "alert_misconfiguration": {
        "titles": (
            "Alerting failure delays response to {service} outage",
            "Late page for {model} degradation",
        ),
        "stories": (
            {
                "titles": ("Mis-routed alert delays response to {model} outage",),
                "symptom": "elevated error rates for {model}",
                "cause_short": "the alert routed to a deprecated channel nobody watched",
                "cause": "The error-rate alert for {service} fired within minutes, but it still routed to the "
                "channel of the team that owned the service last year. Nobody acted on it until the impact was "
                "noticed another way.",
                "fix": "re-routing the alert to the current on-call rotation",
            },
            {
                "titles": ("Latency alert for {service} never paged",),
                "symptom": "latency far above the SLO",
                "cause_short": "the alert threshold was set in the wrong unit and never fired",
                "cause": "The latency alert for {model} compared milliseconds against a threshold written in "
                "seconds, so it would fire only above several hours of latency. p99 reached {p99}s without a page.",
                "fix": "correcting the alert threshold and unit",
            },
        ),
        "signal": ("alert routing audit", "alert firing history"),
        "followups": (
            "Audit alert routes against team ownership every quarter.",
            "Test every alert by firing it in staging after a change.",
            "Lint alert rules for unit mismatches.",
        ),
        "tags": ("alerting", "on-call", "paging", "thresholds", "routing"),
    },
    "traffic_imbalance": {
        "titles": (
            "Uneven load overloads {region} replicas of {model}",
            "Traffic skew saturates part of the {service} fleet",
        ),
        "stories": (
            {
                "titles": ("Hot shard in {service} router overloads {cluster}",),
                "symptom": "one cluster saturated while others sat at half load",
                "cause_short": "the router's tenant hashing sent a large tenant to one cluster",
                "cause": "The router hashes tenants to clusters for cache locality. A large tenant began a launch, "
                "all its traffic went to {cluster}, and that cluster saturated while the rest of the fleet for "
                "{model} ran at half load.",
                "fix": "spreading the large tenant over several clusters",
            },
            {
                "titles": ("Geo-routing change doubles traffic in {region}",),
                "symptom": "one region overloaded while others had headroom",
                "cause_short": "geo routing sent a neighbouring region's traffic to {region}",
                "cause": "A geo-routing table update mapped a neighbouring region's clients to {region}. Traffic "
                "there doubled within minutes while the original region sat mostly idle.",
                "fix": "restoring the geo-routing table",
            },
        ),
        "signal": ("per-cluster utilisation skew", "per-region request rate"),
        "followups": (
            "Cap the share of any tenant a single cluster takes.",
            "Alert on utilisation skew between clusters serving the same model.",
            "Review geo-routing changes with the capacity team.",
        ),
        "tags": ("load-balancing", "routing", "hot-spot", "traffic", "imbalance"),
    },
    "change_management": {
        "titles": (
            "Change without safeguards degrades {service}",
            "Unreviewed change causes {model} outage",
        ),
        "stories": (
            {
                "titles": ("Global {flag} rollout without canary breaks {endpoint}",),
                "symptom": "failures in every region right after a flag change",
                "cause_short": "the {flag} flag was enabled globally at once instead of through a canary",
                "cause": "The {flag} feature flag was turned on for all regions at once instead of following the "
                "staged rollout. It interacted badly with {model} and every region degraded at the same time, so "
                "there was no healthy region to shift traffic to.",
                "fix": "turning the {flag} flag off again",
            },
            {
                "titles": ("Maintenance during peak hours takes down {service}",),
                "symptom": "an outage during planned maintenance",
                "cause_short": "maintenance ran during peak hours without a rollback plan",
                "cause": "A database maintenance that the runbook schedules for the quiet hours was moved to the "
                "afternoon, and no rollback plan was written. When it took longer than planned, {service} lost a "
                "dependency at peak load.",
                "fix": "pausing the maintenance and restoring the previous state",
            },
        ),
        "signal": ("change calendar", "flag rollout audit"),
        "followups": (
            "Require a canary stage for every feature flag that touches serving.",
            "Block maintenance windows that overlap the daily peak.",
            "Add a rollback plan field to the change request template.",
        ),
        "tags": ("change-management", "feature-flag", "rollout", "maintenance", "process"),
    },
    "human_error": {
        "titles": (
            "Operator error takes down {service} in {region}",
            "Manual change causes {model} outage",
        ),
        "stories": (
            {
                "titles": ("Manual drain command evicts all {model} replicas",),
                "symptom": "capacity disappearing after a manual operation",
                "cause_short": "an operator ran a drain command against the production cluster instead of staging",
                "cause": "During routine work an engineer ran a drain command with a kube context still pointing "
                "at production {cluster}. All {model} replicas in {region} were evicted within a minute.",
                "fix": "uncordoning the drained nodes",
            },
            {
                "titles": ("Mistyped config edit takes down {endpoint}",),
                "symptom": "replicas failing to start after a hand-edited change",
                "cause_short": "a hand-edited config file had a typo that the service could not parse",
                "cause": "A config file was edited by hand on the jump host to raise a rate limit. A missing quote "
                "made it unparseable, and every replica of {service} that restarted afterwards failed to start.",
                "fix": "restoring the config file from version control",
            },
        ),
        "signal": ("audit log", "ready replica count"),
        "followups": (
            "Require a confirmation prompt naming the cluster for destructive commands.",
            "Apply configuration only through the reviewed pipeline, never by hand.",
            "Give engineers read-only production contexts by default.",
        ),
        "tags": ("human-error", "manual-change", "operations", "tooling", "runbook"),
    },
}

DETECTION_TEXT = {
    "automated": (
        "The {signal} alert fired {ttd} after impact began and paged the on-call engineer, who "
        "acknowledged it within minutes and opened an incident.",
        "A synthetic probe against {endpoint} started failing and the monitoring system paged on-call "
        "{ttd} after the first failed requests; the {signal} dashboard confirmed the problem.",
        "Automated monitoring caught it: the {signal} monitor crossed its threshold and the alert "
        "reached on-call {ttd} after the start of impact.",
    ),
    "internal_manual": (
        "No alert fired. An engineer on the serving team noticed {symptom} on the {signal} dashboard "
        "while checking an unrelated deploy, {ttd} after impact began, and opened an incident by hand.",
        "An internal team using {service} for their own product reported {symptom} in the engineering "
        "channel {ttd} after the start of impact; on-call confirmed it manually.",
        "Detection was manual: the on-call engineer spotted {symptom} during a routine review, {ttd} "
        "after it started. Our alerts did not cover this case.",
    ),
    "customer_reported": (
        "Customers reported it first. Support tickets about {symptom} arrived {ttd} after impact "
        "began and were escalated to on-call; none of our alerts had fired.",
        "A large customer contacted their account team about {symptom}, and the escalation reached "
        "on-call {ttd} after the start of impact. Our monitoring had not detected it.",
        "We learned about the incident from customer reports on the community forum and in support "
        "tickets, {ttd} after it began.",
    ),
}

MITIGATION_TEXT = {
    "hotfix": (
        "Engineers wrote a hotfix, {fix}, had it reviewed under the incident process and deployed it "
        "to {region} first and then everywhere. Impact stopped {ttm} after it began.",
        "We shipped an urgent hotfix ({fix}) built on {engine} {version}; once it reached all "
        "replicas the symptoms disappeared, {ttm} after the start of impact.",
    ),
    "rollback": (
        "We rolled the change back to the previous release ({prev_version}); replicas returned to "
        "normal as the rollback completed, {ttm} after impact began.",
        "The deployment was rolled back to {prev_version}. Rolling back took about twenty minutes and "
        "the service recovered as the last replicas restarted.",
    ),
    "traffic_routing": (
        "We shifted traffic for {model} away from {region} to healthy regions, which stopped the "
        "customer impact {ttm} after it began while the investigation continued.",
        "On-call drained {cluster} in the router and sent its traffic to the remaining clusters; "
        "errors dropped within minutes.",
    ),
    "node_rebalancing": (
        "We cordoned and drained the affected nodes and rebalanced {replicas} replicas onto healthy "
        "hosts in other pools.",
        "The serving nodes were restarted in batches and replicas were rebalanced across the pool, "
        "which cleared the bad state on the hosts.",
    ),
    "capacity_increase": (
        "We added {nodes} {gpu} nodes and raised the replica count for {model} to absorb the load; "
        "queues drained as the new replicas became ready.",
        "Capacity was increased by {replicas} replicas from the reserved pool, which brought "
        "utilisation back below the saturation point.",
    ),
    "configuration_change": (
        "We changed configuration without new code: {fix}. The change rolled out through the config "
        "service in a few minutes and impact stopped {ttm} after it began.",
        "A configuration change ({fix}) was pushed to the affected replicas and the symptoms stopped.",
    ),
    "self_recovered": (
        "The system recovered on its own before any action was taken: the bad state cleared and "
        "metrics returned to normal {ttm} after impact began. We kept the incident open to find out why.",
        "Before a mitigation was ready, the problem went away by itself as the affected workers were "
        "recycled by their normal lifecycle.",
    ),
    "upstream_fix": (
        "The provider of {dependency} fixed the problem on their side; our error rate returned to "
        "normal shortly after their fix, {ttm} after impact began.",
        "We escalated to the upstream team, who deployed a fix on their side; {service} recovered "
        "without a change on ours.",
    ),
}

MITIGATION_SHORT = {
    "hotfix": "a hotfix ({fix}) has been deployed",
    "rollback": "the change has been rolled back to {prev_version}",
    "traffic_routing": "traffic has been shifted away from the affected {region} capacity",
    "node_rebalancing": "the affected nodes have been drained and replicas rebalanced",
    "capacity_increase": "additional capacity has been added for {model}",
    "configuration_change": "a configuration change ({fix}) has been applied",
    "self_recovered": "the affected systems have recovered",
    "upstream_fix": "our upstream provider has applied a fix",
}

SUMMARY_TEXT = (
    "On {start_hm} UTC {service} in {region} began showing {symptom}. The cause was that {cause_short}.",
    "Between {start_hm} and {mitigated_hm} UTC, customers of {service} saw {symptom}; {cause_short}.",
    "{service} ({model}, {region}) suffered {symptom} for {duration} because {cause_short}.",
)

IMPACT_TEXT = {
    "high": (
        "About {pct}% of requests to {endpoint} in {region} failed or timed out for {duration}. Roughly "
        "{customers} customers were affected, including several enterprise accounts.",
        "For {duration}, {pct}% of {service} traffic ({qps} requests per second at the time) was "
        "affected; {customers} customers opened support tickets.",
    ),
    "low": (
        "A small share of traffic was affected: about {pct}% of {model} requests in {region}, for "
        "{duration}. Around {customers} customers noticed.",
        "Impact was limited to {endpoint} in {region}: {pct}% of requests degraded for {duration}.",
    ),
}

CUSTOMER_IMPACT_TEXT = (
    "{pct}% of {service} requests in {region} affected for {duration}.",
    "About {customers} customers saw {symptom} for {duration}.",
    "Degraded {endpoint} in {region} for {duration}; {pct}% of requests affected.",
)

UPDATE_TEXT = {
    "investigating": (
        "We are investigating {symptom} for {service} in {region}.",
        "We are seeing {symptom} on {endpoint} and are looking into it.",
        "Some customers may see {symptom} when using {model}. We are investigating.",
    ),
    "identified": (
        "The issue has been identified: {cause_short}. We are working on a mitigation.",
        "We have found the cause: {cause_short}. A fix is in progress.",
    ),
    "update": (
        "We are continuing to work on a fix. Error rates are improving but not yet back to normal.",
        "Mitigation is in progress; some requests to {endpoint} may still see {symptom}.",
        "We are still working on this incident and will share another update within 30 minutes.",
    ),
    "monitoring": (
        "{mitigation_short} and we are monitoring the results.",
        "{mitigation_short}. Metrics are recovering and we are watching closely.",
    ),
    "resolved": (
        "This incident has been resolved. {service} is operating normally.",
        "Error rates and latency for {model} are back to normal. The incident is resolved.",
    ),
    "postmortem": (
        "We have published a postmortem. Root cause: {cause_short}.",
        "Postmortem: {cause_short}. Follow-up work is tracked by the serving team.",
    ),
}

POSTMORTEM_TEMPLATE = (
    "## Summary\n\n{summary}\n\n## Impact\n\n{impact}\n\n## Root cause\n\n{cause}\n\n## Detection\n\n"
    "{detection}\n\n## Mitigation\n\n{mitigation}\n\n## Follow-ups\n\n{followups}\n"
)

EXTRA_TAGS = ("customer-facing", "paged", "enterprise", "sla-breach", "weekend", "peak-hours", "postmortem-done")
