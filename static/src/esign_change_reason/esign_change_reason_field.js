/** @odoo-module **/
// The "Reason for Change" box of a signed record's form.
//
// It shows once the user edits a field that the record's signatures cover (the server lists
// them in ``esign_signed_field_names``): as soon as they type in it, or pick a value, or
// change a signed row. It also shows when they open it to give the reason a button needs
// (Unreserve on a signed MO changes signed rows without any field being edited). Until then
// a one-line hint stands in for it, so a signed record that nobody edits has no yellow box.
import { useExternalListener, useRef, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { CharField, charField } from "@web/views/fields/char/char_field";

export class EsignChangeReasonField extends CharField {
    static template = "meddev_esign.EsignChangeReasonField";

    setup() {
        super.setup();
        this.box = useState({ open: false });
        this.root = useRef("root");
        // Typing is not yet a change of the record (that comes when the input is left): the
        // box follows the keystrokes in this form's signed fields.
        useExternalListener(window, "input", (ev) => this.onInput(ev), { capture: true });
    }

    get signedFieldNames() {
        return this.props.record.data.esign_signed_field_names || [];
    }

    onInput(ev) {
        const form = this.root.el && this.root.el.closest(".o_form_view");
        if (this.box.open || !form || !(ev.target instanceof Element) || !form.contains(ev.target)) {
            return;
        }
        const names = this.signedFieldNames;
        for (let el = ev.target.closest(".o_field_widget[name]"); el; ) {
            if (names.includes(el.getAttribute("name"))) {
                this.box.open = true;
                return;
            }
            el = el.parentElement && el.parentElement.closest(".o_field_widget[name]");
        }
    }

    get signedFieldEdited() {
        const record = this.props.record;
        // Reading each field's value subscribes this widget to its changes; ``_changes`` then
        // says whether it differs from what was saved.
        return this.signedFieldNames.some(
            (name) => record.data[name] !== undefined && name in record._changes
        );
    }

    get shown() {
        return this.box.open || Boolean(this.props.record.data[this.props.name]) || this.signedFieldEdited;
    }

    open() {
        this.box.open = true;
    }
}

registry.category("fields").add("esign_change_reason", {
    ...charField,
    component: EsignChangeReasonField,
});
