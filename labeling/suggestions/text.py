"""The text a suggestion model reads for an incident: pure, no database.

Status-page incidents are short (a title and a few updates), and their updates repeat
each other and the summary the importer takes from the first one. The text is the one the
embeddings use (`labeling.embeddings.build_embedding_text`: title first, Markdown dropped),
with each distinct update said once, so a repeated update does not crowd out the rest of
what the model can read.
"""

from labeling.embeddings import build_embedding_text, incident_text_fields


def _key(text):
    return " ".join(text.split()).casefold()


def distinct_bodies(bodies, already=()):
    """Update bodies in order, without blanks, repeats, or what `already` holds (summary, postmortem)."""
    seen = {_key(text) for text in already if text}
    kept = []
    for body in bodies:
        key = _key(body or "")
        if key and key not in seen:
            seen.add(key)
            kept.append(body)
    return kept


def suggestion_text(title, summary="", postmortem="", service="", model_name="", update_bodies=()):
    """Build the text the suggestion model reads for one incident."""
    bodies = distinct_bodies(update_bodies, already=(summary, postmortem))
    return build_embedding_text(title, summary, postmortem, service, model_name, bodies)


def incident_suggestion_text(incident):
    """suggestion_text of an Incident whose updates are prefetched."""
    return suggestion_text(*incident_text_fields(incident))
